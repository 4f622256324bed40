"""Alerts: the model, its evidence, the store and the sinks."""
