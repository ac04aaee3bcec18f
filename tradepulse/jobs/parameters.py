"""Notebook parameters: parse ``-p key value`` like papermill does, and check them against the notebook.

A job notebook declares its parameters in one cell tagged ``parameters``; papermill injects the
values given for a run in a new cell right after it. Papermill itself only warns about a name the
notebook does not declare, which turns a typo into a report silently run with the default; we refuse.
"""

from __future__ import annotations

import json
import keyword
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import yaml

from tradepulse.errors import ConfigError

_INTEGER = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?|[+-]?(inf|nan)", re.IGNORECASE)
_BOOLEANS = {"true": True, "false": False}
_NONES = {"none", "null"}


def parse_parameter_value(text: str) -> Any:
    """Parse one command-line parameter value the way a quant expects papermill's ``-p`` to.

    Integers and floats become numbers, ``true``/``false`` (any case) booleans, ``none``/``null``
    ``None``; a value starting with ``[`` or ``{`` is a JSON (or YAML flow) list or dict; a quoted
    value is the string inside the quotes; anything else is the string itself.

    Parameters
    ----------
    text : str
        The raw value from the command line.

    Returns
    -------
    Any
        The typed value.

    Raises
    ------
    ConfigError
        If a list, dict or quoted value does not parse.

    Examples
    --------
    >>> parse_parameter_value("10"), parse_parameter_value("2.5"), parse_parameter_value("True")
    (10, 2.5, True)
    >>> parse_parameter_value('{"fast": 10}'), parse_parameter_value("sample:binance:BTC/USDT:1h")
    ({'fast': 10}, 'sample:binance:BTC/USDT:1h')
    """
    stripped = text.strip()
    if _INTEGER.fullmatch(stripped):
        return int(stripped)
    if _FLOAT.fullmatch(stripped):
        return float(stripped)
    if stripped.lower() in _BOOLEANS:
        return _BOOLEANS[stripped.lower()]
    if stripped.lower() in _NONES:
        return None
    if stripped.startswith(("[", "{")):
        return _parse_container(stripped)
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "\"'":
        if stripped[0] == '"':
            try:
                return json.loads(stripped)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"cannot parse quoted value {text!r}: {exc.msg}") from None
        return stripped[1:-1]
    # Anything else is text, exactly as given: a data source, a strategy name, a date.
    return text


def _parse_container(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        pass
    # YAML flow syntax ({fast: 10, slow: 30}) is what people type when they skip the JSON quotes.
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise ConfigError(f"cannot parse {text!r} as a JSON list or dict: {problem}") from None
    if not isinstance(value, (list, dict)):
        raise ConfigError(f"cannot parse {text!r} as a JSON list or dict")
    return value


def parse_parameter_pairs(pairs: Iterable[Iterable[str]] | None) -> dict[str, Any]:
    """Turn repeated ``-p NAME VALUE`` options into a parameters dict.

    Raises
    ------
    ConfigError
        If a name is not a Python identifier or is given twice.
    """
    parameters: dict[str, Any] = {}
    for name, value in (tuple(pair) for pair in pairs or []):
        check_parameter_name(name)
        if name in parameters:
            raise ConfigError(f"parameter {name!r} is given twice")
        parameters[name] = parse_parameter_value(value)
    return parameters


def check_parameter_name(name: str) -> None:
    """Raise :class:`ConfigError` unless ``name`` can be a variable in the notebook."""
    if not name.isidentifier() or keyword.iskeyword(name):
        raise ConfigError(f"parameter name {name!r} is not a valid Python identifier")


def declared_parameters(
    notebook: Path | str, kernel_name: str = "python3", language: str | None = None
) -> dict[str, dict[str, Any]]:
    """Return the parameters a notebook declares in its ``parameters``-tagged cell.

    Parameters
    ----------
    notebook : Path or str
        The source notebook.
    kernel_name : str
        Kernel the notebook will run on; picks papermill's translator for the cell's language.
    language : str, optional
        The kernel's language; by default the notebook's own, else ``python``.

    Returns
    -------
    dict[str, dict]
        Name -> papermill's description (``default`` as source text, ``inferred_type_name``,
        ``help``), in declaration order; empty when the notebook has no parameters cell.

    Raises
    ------
    ConfigError
        If the notebook is missing or unreadable.
    """
    import nbformat
    from papermill.inspection import _infer_parameters  # the inference papermill's own execution uses

    path = Path(notebook)
    if not path.is_file():
        raise ConfigError(f"notebook not found: {path}")
    if path.suffix != ".ipynb":
        raise ConfigError(f"{path} is not a notebook (expected a .ipynb file)")
    try:
        node = nbformat.read(path, as_version=4)
        for cell in node.cells:
            cell.metadata.setdefault("tags", [])  # papermill's own loader guarantees this key
        language = language or notebook_language(node)
        return {p.name: p._asdict() for p in _infer_parameters(node, name=kernel_name, language=language)}
    except Exception as exc:  # papermill and nbformat raise unrelated types for a broken file
        raise ConfigError(f"{path} is not a readable notebook: {exc}") from None


def notebook_language(node: Any) -> str:
    """Return a notebook's language from its metadata, ``python`` when it records none.

    Notebooks written by tools (or by hand) often lack ``language_info``; papermill then refuses to
    parameterise them, although every kernel we run knows its language.
    """
    metadata = node.get("metadata", {})
    return metadata.get("language_info", {}).get("name") or metadata.get("kernelspec", {}).get("language") or "python"


def check_parameters(
    notebook: Path | str,
    parameters: Mapping[str, Any],
    context: str = "",
    kernel_name: str = "python3",
    language: str | None = None,
) -> None:
    """Refuse parameters the notebook does not declare, listing the ones it does.

    Parameters
    ----------
    notebook : Path or str
        The source notebook.
    parameters : Mapping[str, Any]
        Parameters meant for a run.
    context : str
        Prefix for the error message (e.g. ``"job 'daily': "``).
    kernel_name, language
        As for :func:`declared_parameters`.

    Raises
    ------
    ConfigError
        If the notebook is unreadable, declares no parameters cell while parameters are given, or a
        name is not declared.
    """
    declared = declared_parameters(notebook, kernel_name, language)
    if not parameters:
        return
    if not declared:
        raise ConfigError(
            f"{context}{Path(notebook).name} has no cell tagged 'parameters', so it takes no parameters "
            f"(got {', '.join(sorted(parameters))}); tag the cell holding the defaults with 'parameters'"
        )
    unknown = [name for name in parameters if name not in declared]
    if unknown:
        raise ConfigError(
            f"{context}unknown parameter{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} for "
            f"{Path(notebook).name}; it declares: {', '.join(declared)}"
        )
