"""Every `tradepulse` command line shown in the docs is one the real command line accepts.

A renamed flag or a removed subcommand leaves the docs telling users to type something that fails;
this test reads every shell block of docs/*.md, README.md and extensions/README.md, takes each
`tradepulse ...` command (after any `VAR=value` prefixes, across `\\` continuations), and parses it
with the real parser (the parse only: nothing runs). Placeholders like `<VERSION>` or `FILE` are
arguments like any other.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from tradepulse.cli import build_parser

ROOT = Path(__file__).resolve().parents[2]
DOCS = sorted((ROOT / "docs").glob("*.md")) + [ROOT / "README.md", ROOT / "extensions" / "README.md"]
_BLOCK = re.compile(r"```(?:bash|sh|shell|console)\n(.*?)```", re.DOTALL)
_ASSIGNMENT = re.compile(r"^[A-Z_][A-Z0-9_]*=")


def _commands() -> list[tuple[str, int, str]]:
    found = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in _BLOCK.finditer(text):
            first_line = text[: block.start()].count("\n") + 2
            lines = block.group(1).split("\n")
            index = 0
            while index < len(lines):
                number, line = first_line + index, lines[index]
                while line.rstrip().endswith("\\") and index + 1 < len(lines):
                    index += 1
                    line = line.rstrip()[:-1] + " " + lines[index].strip()
                index += 1
                command = line.strip().removeprefix("$ ")
                if "tradepulse " not in command or command.startswith("#"):
                    continue
                found.append((f"{path.relative_to(ROOT)}:{number}", number, command))
    return found


def _argv(command: str) -> list[str] | None:
    """The tradepulse arguments of a shell line, or None when the line only mentions the command."""
    try:
        words = shlex.split(command, comments=True)
    except ValueError:
        words = command.split()
    while words and _ASSIGNMENT.match(words[0]):
        words = words[1:]
    if not words or words[0] not in ("tradepulse", ".venv/bin/tradepulse"):
        return None
    argv = words[1:]
    for stop in ("|", "&&", ";", ">", "&", "2>&1"):
        if stop in argv:
            argv = argv[: argv.index(stop)]
    return argv


COMMANDS = [(where, argv) for where, _, command in _commands() if (argv := _argv(command)) is not None]


def test_the_docs_show_commands_to_check():
    assert len(COMMANDS) > 60


@pytest.mark.parametrize(("where", "argv"), COMMANDS, ids=[where for where, _ in COMMANDS])
def test_each_documented_command_parses(where, argv):
    parser = build_parser()
    try:
        parser.parse_args(argv)
    except SystemExit as error:
        if error.code not in (0, None):  # --help and --version exit 0
            pytest.fail(f"{where}: `tradepulse {' '.join(argv)}` is refused by the command line")


def _shell_lines() -> list[tuple[str, str]]:
    lines = []
    for path in DOCS:
        text = path.read_text(encoding="utf-8")
        for block in _BLOCK.finditer(text):
            for offset, line in enumerate(block.group(1).split("\n")):
                number = text[: block.start()].count("\n") + 2 + offset
                lines.append((f"{path.relative_to(ROOT)}:{number}", line.strip().removeprefix("$ ")))
    return lines


def test_every_make_target_and_script_the_docs_show_exists():
    targets = set(re.findall(r"^([a-z][a-z-]*):", (ROOT / "Makefile").read_text(), re.MULTILINE))
    checked = 0
    for where, line in _shell_lines():
        for target in re.findall(r"(?:^|&& )make ([a-z][a-z-]*)", line):
            assert target in targets, f"{where}: `make {target}` is not a Makefile target"
            checked += 1
        for script in re.findall(r"(?:python3?|\.venv/bin/python) ((?:tools|bench|deploy|extensions)/[\w/.-]+\.py)", line):
            assert (ROOT / script).is_file(), f"{where}: {script} does not exist"
            checked += 1
    assert checked >= 5
