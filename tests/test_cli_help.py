"""Every subcommand option says what it does and, where it has one, its default."""

from __future__ import annotations

import argparse

from devmetrics_app.cli import build_parser, subcommand_parsers


def test_every_option_has_help_and_shows_its_default() -> None:
    parsers = subcommand_parsers(build_parser())
    assert {p.prog.split(" ", 1)[1] for p in parsers} >= {
        "serve", "worker", "scheduler", "migrate", "demo", "replay", "import", "token create"}
    for parser in parsers:
        text = parser.format_help()
        for action in parser._actions:
            if isinstance(action, argparse._HelpAction | argparse._SubParsersAction):
                continue
            assert action.help, f"{parser.prog} {action.dest} has no help"
            if action.option_strings and action.default not in (None, False):
                assert f"(default: {action.default})" in " ".join(text.split()), (parser.prog, action.dest)
