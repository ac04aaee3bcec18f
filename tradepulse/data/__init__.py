"""Market data: the canonical bar frame, readers, embedded real datasets and quality checks.

Examples
--------
>>> from tradepulse.data import load_bars, validate_bars
>>> bars = load_bars("sample:binance:BTC/USDT:1h")
>>> validate_bars(bars).ok
True
"""

from tradepulse.data.readers import load_bars, read_bars_unchecked, resolve_source
from tradepulse.data.samples import SAMPLES, UNIVERSES, SampleDataset, get_sample, get_universe, list_samples
from tradepulse.data.schema import BAR_COLUMNS, check_ordered, to_bar_frame
from tradepulse.data.universe import AlignmentReport, Universe, load_universe, make_universe, symbol_from_filename
from tradepulse.data.universe_quality import UniverseQualityReport, validate_universe
from tradepulse.data.validate import Gap, QualityReport, format_timeframe, infer_timeframe, validate_bars

__all__ = [
    "AlignmentReport",
    "Universe",
    "load_universe",
    "make_universe",
    "symbol_from_filename",
    "BAR_COLUMNS",
    "Gap",
    "QualityReport",
    "SAMPLES",
    "SampleDataset",
    "check_ordered",
    "format_timeframe",
    "get_sample",
    "infer_timeframe",
    "list_samples",
    "load_bars",
    "read_bars_unchecked",
    "resolve_source",
    "to_bar_frame",
    "validate_bars",
    "UNIVERSES",
    "UniverseQualityReport",
    "get_universe",
    "validate_universe",
]
