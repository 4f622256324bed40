"""Veille pipeline runtime: settings, the Post contract, the Kafka run loop, the CLI."""
