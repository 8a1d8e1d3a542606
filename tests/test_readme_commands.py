"""The README's two commands are what a newcomer types; CI must run the same test command."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def readme_commands() -> list[str]:
    """The command lines of the first shell block under "## The two commands"."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## The two commands", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block, "README's 'The two commands' section has no ```sh block"
    return [line.strip() for line in block.group(1).splitlines()
            if line.strip() and not line.strip().startswith("#")]


def test_readme_has_exactly_two_commands_both_in_a_virtual_environment():
    commands = readme_commands()
    assert len(commands) == 2, commands
    serve, test = commands
    for command in commands:
        # A bare Debian has no `python` and refuses a system-wide pip install.
        assert command.startswith("python3 -m venv .venv && .venv/bin/python -m pip install -e ")
        assert not re.search(r"(^|&& )(python|pip|devmetrics) ", command), command
    assert serve.endswith(".venv/bin/devmetrics serve")
    assert test.endswith(".venv/bin/python -m pytest")


def test_ci_runs_the_readme_test_command():
    test_command = readme_commands()[1]
    ci = (ROOT / ".ci" / "run").read_text()
    run_lines = [line for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert test_command in run_lines
    assert "chromium" in ci  # the browser tests' Chromium step stays
