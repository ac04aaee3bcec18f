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
        *(
            SampleDataset(
                name=f"binance:{base}/USDT:4h",
                filename=f"universes/binance_{base}-USDT_4h.csv.gz",
                exchange="binance",
                symbol=f"{base}/USDT",
                timeframe="4h",
                description=f"Binance {base}/USDT spot (inferred), 4-hour, 2023-12-30 08:00 to 2024-03-22 08:00 UTC (499 bars)",
                license="GPL-3.0 (Drakkar-Software/OctoBot)",
                source="github.com/Drakkar-Software/OctoBot octobot/strategy_optimizer/optimizer_data_files (multi-symbol backtesting file)",
            )
            for base in ("BTC", "ETH", "SOL", "BNB")
        ),
        *(
            SampleDataset(
                name=f"bittrex:{base}/BTC:5m",
                filename=f"universes/bittrex_{base}-BTC_5m.csv.gz",
                exchange="bittrex",
                symbol=f"{base}/BTC",
                timeframe="5m",
                description=f"Bittrex {base}/BTC spot, 5-minute, 2018-01-10 04:55 to 2018-01-30 04:45 UTC",
                license="GPL-3.0 (freqtrade/freqtrade)",
                source=f"github.com/freqtrade/freqtrade tests/testdata BTC_{base}-5.json",
            )
            for base in ("ADA", "DASH", "ETC", "ETH", "LTC", "NXT", "POWR", "XLM", "XMR", "ZEC")
        ),
        *(
            SampleDataset(
                name=f"yahoo:{ticker}:1d",
                filename=f"universes/yahoo_{ticker}_1d.csv.gz",
                exchange="yahoo",
                symbol=ticker,
                timeframe="1d",
                description=f"{ticker} Select Sector SPDR ETF, daily NYSE sessions, 2019-01-02 to 2026-07-10, split- and dividend-adjusted",
                license="MIT (ta4j/ta4j)",
                source=f"github.com/ta4j/ta4j ta4j-examples resources (Yahoo Finance {ticker} daily)",
            )
            for ticker in ("XLB", "XLC", "XLE", "XLF", "XLI", "XLK", "XLP", "XLRE", "XLU", "XLV", "XLY")
        ),
    )
}

#: Named universes: several embedded samples on one clock, addressable as ``universe:<name>``.
UNIVERSE_PREFIX = "universe:"
UNIVERSES: dict[str, tuple[str, ...]] = {
    "binance-usdt-4h": tuple(f"binance:{base}/USDT:4h" for base in ("BTC", "ETH", "SOL", "BNB")),
    "bittrex-btc-5m": tuple(
        f"bittrex:{base}/BTC:5m" for base in ("ADA", "DASH", "ETC", "ETH", "LTC", "NXT", "POWR", "XLM", "XMR", "ZEC")
    ),
    "spdr-sectors-1d": tuple(
        f"yahoo:{ticker}:1d" for ticker in ("XLB", "XLC", "XLE", "XLF", "XLI", "XLK", "XLP", "XLRE", "XLU", "XLV", "XLY")
    ),
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


def get_universe(name: str) -> tuple[SampleDataset, ...]:
    """Return the members of the embedded universe ``name`` (with or without ``universe:``)."""
    key = name[len(UNIVERSE_PREFIX) :] if name.startswith(UNIVERSE_PREFIX) else name
    try:
        return tuple(SAMPLES[member] for member in UNIVERSES[key])
    except KeyError:
        known = ", ".join(f"{UNIVERSE_PREFIX}{n}" for n in UNIVERSES)
        raise DataError(f"unknown universe {name!r}; available: {known}") from None
