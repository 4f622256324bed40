"""Every `veille` command and subcommand answers --help (operators discover the CLI this way)."""

from __future__ import annotations

from typing import Any

import typer
from typer.testing import CliRunner

from monitor.cli import app


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Typer's groups carry their subcommands in ``commands`` (Typer may vendor its own click)."""
    paths = []
    for name, command in sorted(group.commands.items()):
        path = (*prefix, name)
        paths.append(path)
        if hasattr(command, "commands"):
            paths.extend(command_paths(command, path))
    return paths


def test_every_command_has_help() -> None:
    root = typer.main.get_command(app)
    paths = command_paths(root)
    names = {" ".join(path) for path in paths}
    assert {
        "run",
        "api",
        "demo",
        "produce",
        "scan",
        "schema post",
        "policies check",
        "policies test",
        "policies backtest",
        "schema backtest",
        "models train",
        "models evaluate",
        "models export-feedback",
    } <= names
    runner = CliRunner()
    for path in paths:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, (path, result.output)
        assert "Usage" in result.output, path
        command = root
        for name in path:
            command = command.commands[name]  # type: ignore[attr-defined]
        assert command.help or command.short_help, f"`veille {' '.join(path)}` has no description"
