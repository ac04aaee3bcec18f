"""Helpers shared by the command modules: JSON output and ``key=value`` parsing."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping
from typing import Any

from tradepulse.errors import ConfigError
from tradepulse.model.jsonable import to_jsonable

_WRITE_CHUNK = 1 << 16


def print_json(payload: Any, *, streamed: Mapping[str, Iterable[Any]] | None = None) -> None:
    """Print ``payload`` as indented JSON.

    ``streamed`` lists follow the keys of ``payload`` (a dict), in order, written an item at a
    time: the text is the same as if they were in the payload, and a long list is never held whole.
    """
    text = json.dumps(to_jsonable(payload), indent=2, allow_nan=False)
    if not streamed:
        # One write: json.dump writes token by token, a system call each when output is unbuffered.
        sys.stdout.write(text + "\n")
        return
    if not isinstance(payload, dict):
        raise TypeError("streamed lists follow the keys of a dict")
    pieces = [text[:-2] if payload else "{"]  # the object without its closing "\n}"
    size = 0
    for number, (key, items) in enumerate(streamed.items()):
        pieces.append(("," if payload or number else "") + "\n  " + json.dumps(str(key)) + ": [")
        empty = True
        for item in items:
            item_text = json.dumps(to_jsonable(item), indent=2, allow_nan=False).replace("\n", "\n    ")
            pieces.append(("\n    " if empty else ",\n    ") + item_text)
            empty = False
            size += len(item_text)
            if size >= _WRITE_CHUNK:
                sys.stdout.write("".join(pieces))
                pieces, size = [], 0
        pieces.append("]" if empty else "\n  ]")
    pieces.append("\n}\n")
    sys.stdout.write("".join(pieces))


def parse_key_values(pairs: list[str] | None, option: str = "-p") -> dict[str, str]:
    """Parse repeated ``key=value`` options into a dict of raw strings (types are the strategy's job)."""
    result: dict[str, str] = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{option} expects key=value, got {pair!r}")
        result[key.strip()] = value.strip()
    return result


def add_json_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
