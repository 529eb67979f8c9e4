"""The README's command table names every command and option `erpsync` has: a command or an option added
later cannot go undocumented."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import click

from erpsync.cli import main

README = Path(__file__).parents[1] / "README.md"


def commands(command: click.Command, path: tuple[str, ...]) -> Iterator[tuple[str, click.Command]]:
    yield " ".join(path), command
    if isinstance(command, click.Group):
        for name, sub in command.commands.items():
            yield from commands(sub, (*path, name))


def test_every_command_and_option_is_in_the_readme() -> None:
    readme = README.read_text(encoding="utf-8")
    missing = [
        f"{name} {option}".strip()
        for name, command in commands(main, ("erpsync",))
        for option in [
            "",
            *(
                flag
                for param in command.params
                if isinstance(param, click.Option)
                for flag in param.opts
                if flag.startswith("--") and flag != "--help"
            ),
        ]
        if (option or name) not in readme
    ]
    assert missing == []
