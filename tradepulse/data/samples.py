"""Real market datasets shipped inside the package, addressable as ``sample:<name>``.

Sources, licenses and transformations are in ``samples/ATTRIBUTION.md`` beside this module.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from tradepulse.errors import DataError

SAMPLE_PREFIX = "sample:"


@dataclass(frozen=True)
class SampleDataset:
    """One embedded dataset: its address, file and provenance."""

    name: str
    filename: str
    exchange: str
    symbol: str
    timeframe: str
    description: str
    license: str
    source: str

    @property
    def path(self) -> Path:
        return Path(str(resources.files("tradepulse.data") / "samples" / self.filename))

    @property
    def address(self) -> str:
        return f"{SAMPLE_PREFIX}{self.name}"


SAMPLES: dict[str, SampleDataset] = {
    dataset.name: dataset
    for dataset in (
        SampleDataset(
            name="binance:BTC/USDT:1h",
            filename="binance_BTC-USDT_1h.csv.gz",
            exchange="binance",
            symbol="BTC/USDT",
            timeframe="1h",
            description="Binance BTC/USDT spot, hourly, 2019-09-30 08:00 to 2019-10-24 14:00 UTC (583 bars)",
            license="Apache-2.0 (tensortrade-org/tensortrade)",
            source="github.com/tensortrade-org/tensortrade examples/btc_usdt_1h.csv",
        ),
        SampleDataset(
            name="binance:BTC/USDT-PERP:5m",
            filename="binance_BTC-USDT-PERP_5m.csv.gz",
            exchange="binance",
            symbol="BTC/USDT-PERP",
            timeframe="5m",
            description="Binance USDT-M BTC/USDT perpetual (inferred), 5-minute, 2023-01-02 to 2023-02-09 UTC (10,999 bars)",
            license="GPL-3.0 (freqtrade/freqtrade)",
            source="github.com/freqtrade/freqtrade tests/testdata/orderflow/candles.json",
        ),
    )
}


def get_sample(name: str) -> SampleDataset:
    """Return the embedded dataset called ``name`` (with or without the ``sample:`` prefix)."""
    key = name[len(SAMPLE_PREFIX) :] if name.startswith(SAMPLE_PREFIX) else name
    try:
        return SAMPLES[key]
    except KeyError:
        known = ", ".join(f"{SAMPLE_PREFIX}{n}" for n in SAMPLES)
        raise DataError(f"unknown sample {name!r}; available: {known}") from None


def list_samples() -> list[SampleDataset]:
    """Return every embedded dataset, in a stable order."""
    return list(SAMPLES.values())
