"""Helpers shared by the command modules: JSON output and ``key=value`` parsing."""

from __future__ import annotations

import argparse
import json
import math
import sys
from typing import Any

import numpy as np
import pandas as pd

from tradepulse.errors import ConfigError




def to_jsonable(value: Any) -> Any:
    """Convert numpy/pandas scalars, timestamps and non-finite floats into plain JSON values."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, pd.Timestamp):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, pd.Timedelta):
        return value.isoformat()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def print_json(payload: Any) -> None:
    json.dump(to_jsonable(payload), sys.stdout, indent=2, allow_nan=False)
    sys.stdout.write("\n")


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
