"""Results a notebook hands to the job runner: a JSON display output with its own MIME type.

A job notebook ends with ``record_results({...})``. The mapping is shown as a display output whose
data holds :data:`RESULTS_MIME_TYPE` (machine-readable) and ``text/plain`` (what a person sees in
JupyterLab), so it is saved inside the executed notebook and survives archiving. The runner, the
scheduler and anyone holding an archived notebook read it back with :func:`read_results`.
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tradepulse.errors import ConfigError
from tradepulse.model.jsonable import to_jsonable

if TYPE_CHECKING:  # nbformat takes a second to import; a notebook recording results never needs it
    import nbformat

RESULTS_MIME_TYPE = "application/vnd.tradepulse.results+json"


def jsonable_results(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Convert a results mapping into plain JSON values, or raise naming the offending key.

    NumPy and pandas scalars, timestamps, arrays and Series become numbers, ISO strings and lists;
    NaN and infinities become ``null`` (JSON has no NaN).

    Parameters
    ----------
    mapping : Mapping[str, Any]
        The results, keyed by name.

    Returns
    -------
    dict[str, Any]
        A copy that ``json.dumps(..., allow_nan=False)`` accepts.

    Raises
    ------
    ConfigError
        If ``mapping`` is not a mapping or holds a value with no JSON form.
    """
    if not isinstance(mapping, Mapping):
        raise ConfigError(f"record_results expects a mapping of name -> value, got {type(mapping).__name__}")
    converted: dict[str, Any] = {}
    for key, value in mapping.items():
        plain = to_jsonable(_unwrap_containers(value))
        try:
            json.dumps(plain, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise ConfigError(
                f"result {key!r} has no JSON form ({type(value).__name__}): {exc}; "
                "convert it to a number, string, list or dict first"
            ) from None
        converted[str(key)] = plain
    return converted


def _unwrap_containers(value: Any) -> Any:
    """Turn the containers ``to_jsonable`` does not know (arrays, Series, dates) into ones it does."""
    if value is pd.NaT:  # before the datetime check: NaT is a datetime subclass
        return None
    if isinstance(value, Mapping):
        return {k: _unwrap_containers(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_unwrap_containers(v) for v in value]
    if isinstance(value, np.ndarray):
        return [_unwrap_containers(v) for v in value.tolist()]
    if isinstance(value, pd.Series):
        return {str(k): _unwrap_containers(v) for k, v in value.items()}
    if isinstance(value, pd.Index):
        return [_unwrap_containers(v) for v in value]
    if isinstance(value, dt.datetime) and not isinstance(value, pd.Timestamp):
        return pd.Timestamp(value)
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        # Results are report figures, not money on its way to a venue: a float is what a reader wants.
        return float(value)
    return value


def record_results(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """Record a job's results in the notebook, for the runner and the run archive to read back.

    Call it once, in the notebook's last cell. Calling it again replaces nothing: the runner reads
    the last recorded mapping.

    Parameters
    ----------
    mapping : Mapping[str, Any]
        Figures worth keeping, e.g. ``{"total_return": 0.12, "trades": 41}``. NumPy/pandas values
        are converted; values with no JSON form raise.

    Returns
    -------
    dict[str, Any]
        The JSON-safe mapping that was recorded.

    Examples
    --------
    >>> from tradepulse.jobs import record_results
    >>> record_results({"sharpe": 1.4, "trades": 41})  # doctest: +SKIP
    """
    results = jsonable_results(mapping)
    bundle = {
        RESULTS_MIME_TYPE: results,
        "text/plain": "TradePulse results\n" + json.dumps(results, indent=2, allow_nan=False),
    }
    try:
        from IPython.display import display
    except ImportError:  # pragma: no cover - IPython ships with every kernel we run
        print(bundle["text/plain"])
        return results
    # Metadata marks the output so readers need not guess which JSON display is ours.
    display(bundle, raw=True, metadata={RESULTS_MIME_TYPE: {"recorded_by": "tradepulse.jobs"}})
    return results


def read_results(notebook: Path | str | nbformat.NotebookNode) -> dict[str, Any] | None:
    """Read the results an executed notebook recorded with :func:`record_results`.

    Parameters
    ----------
    notebook : Path, str or NotebookNode
        An executed notebook file, or one already loaded.

    Returns
    -------
    dict[str, Any] or None
        The last recorded mapping, or ``None`` when the notebook recorded none (for instance a run
        that failed before its last cell).

    Raises
    ------
    ConfigError
        If the file is missing or is not a notebook.
    """
    node = notebook if isinstance(notebook, dict) else _load(Path(notebook))
    found: dict[str, Any] | None = None
    for cell in node.get("cells", []):
        for output in cell.get("outputs", []) or []:
            data = output.get("data") or {}
            if output.get("output_type") in ("display_data", "execute_result") and RESULTS_MIME_TYPE in data:
                payload = data[RESULTS_MIME_TYPE]
                # nbformat stores JSON MIME bundles as objects, but a hand-edited file may hold text.
                found = json.loads(payload) if isinstance(payload, str) else dict(payload)
    return found


def _load(path: Path) -> nbformat.NotebookNode:
    import nbformat

    if not path.is_file():
        raise ConfigError(f"notebook not found: {path}")
    try:
        return nbformat.read(path, as_version=4)
    except Exception as exc:  # nbformat raises several unrelated types for unreadable files
        raise ConfigError(f"{path} is not a readable notebook: {exc}") from None
