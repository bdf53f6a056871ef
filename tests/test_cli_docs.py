"""docs/cli.rst lists every command of ``flask gamify`` (a new command without docs fails)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from flask_gamify.cli import gamify_cli

CLI_DOCS = (Path(__file__).resolve().parent.parent / "docs" / "cli.rst").read_text()


def _commands(group: click.Group, prefix: str) -> list[str]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        if isinstance(command, click.Group):
            found += _commands(command, path)
        else:
            found.append(path)
    return found


@pytest.mark.parametrize("command", _commands(gamify_cli, "flask gamify"))
def test_every_command_is_documented(command: str) -> None:
    assert f"``{command}" in CLI_DOCS or f"{command}``" in CLI_DOCS, (
        f"docs/cli.rst does not document {command!r}: add a ``{command} ...`` entry."
    )


def test_the_check_finds_nested_commands() -> None:
    commands = _commands(gamify_cli, "flask gamify")
    assert "flask gamify keys create" in commands
    assert "flask gamify goals activate" in commands
