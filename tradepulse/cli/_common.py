"""Helpers shared by the command modules: JSON output and ``key=value`` parsing."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from tradepulse.errors import ConfigError
from tradepulse.model.jsonable import to_jsonable


def print_json(payload: Any) -> None:
    # One write: json.dump writes token by token, a system call each when output is unbuffered.
    sys.stdout.write(json.dumps(to_jsonable(payload), indent=2, allow_nan=False) + "\n")


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
