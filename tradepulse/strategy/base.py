"""The Strategy base class and its typed, validated parameter declarations.

A strategy is a class with declared parameters and one pure method, ``signals(bars)``, returning
the target exposure per bar. The same class runs in a backtest (over the whole frame) and in the
live engine (on a rolling window of ``warmup_bars`` bars, acting on the last row), so ``signals``
must be causal: the value at bar ``t`` may use bars up to and including ``t`` only.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from tradepulse.errors import StrategyError

__all__ = [
    "Param",
    "IntParam",
    "FloatParam",
    "ChoiceParam",
    "BoolParam",
    "ParamSpec",
    "Strategy",
    "GridCache",
    "IncrementalSignals",
]

_TRUE_WORDS = frozenset({"true", "1", "yes", "y", "on"})
_FALSE_WORDS = frozenset({"false", "0", "no", "n", "off"})


@dataclass(frozen=True)
class ParamSpec:
    """A parameter's public description: enough to build a CLI help line or a notebook slider."""

    name: str
    type: str
    default: Any
    min: float | int | None = None
    max: float | int | None = None
    choices: tuple[Any, ...] | None = None
    doc: str = ""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if data["choices"] is not None:
            data["choices"] = list(data["choices"])
        return data


class Param:
    """A declared strategy parameter (a read-only descriptor on the strategy instance).

    Subclasses implement :meth:`coerce` (type and range checks for Python values) and
    :meth:`parse` (conversion from command-line text).
    """

    type_name: ClassVar[str] = "any"

    def __init__(self, default: Any, *, doc: str = "") -> None:
        self.default = default
        self.doc = doc
        self.name = "<unbound>"

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __get__(self, instance: Any, owner: type | None = None) -> Any:
        if instance is None:
            return self
        return instance._values[self.name]

    def __set__(self, instance: Any, value: Any) -> None:
        raise AttributeError(
            f"parameter {self.name!r} is read-only; use strategy.with_params({self.name}=...) for a new strategy"
        )

    def _fail(self, message: str) -> StrategyError:
        return StrategyError(f"parameter {self.name!r} {message}")

    def coerce(self, value: Any) -> Any:
        """Return ``value`` checked and converted to this parameter's type, or raise StrategyError."""
        return value

    def parse(self, text: str) -> Any:
        """Parse command-line text (``"10"``, ``"true"``) into a checked value."""
        return self.coerce(text)

    def parse_grid(self, text: str) -> list[Any]:
        """Parse a sweep axis: a comma list (``5,10,20``) or, for numbers, ``start:stop:step`` (inclusive)."""
        values = [self.parse(item.strip()) for item in text.split(",") if item.strip()]
        if not values:
            raise self._fail(f"needs at least one value in the grid, got {text!r}")
        return list(dict.fromkeys(values))

    def bounds_text(self) -> str:
        return ""

    def spec(self) -> ParamSpec:
        return ParamSpec(name=self.name, type=self.type_name, default=self.default, doc=self.doc)


class _NumberParam(Param):
    number_type: ClassVar[type] = float

    def __init__(
        self, default: Any, *, min: float | None = None, max: float | None = None, doc: str = ""
    ) -> None:
        if min is not None and max is not None and min > max:
            raise StrategyError(f"parameter bounds are inverted: min={min} > max={max}")
        self.min = min
        self.max = max
        super().__init__(default, doc=doc)

    def bounds_text(self) -> str:
        low = "-inf" if self.min is None else f"{self.min}"
        high = "inf" if self.max is None else f"{self.max}"
        return f"[{low}, {high}]"

    def _kind(self) -> str:
        noun = "an integer" if self.number_type is int else "a number"
        return noun if self.min is None and self.max is None else f"{noun} in {self.bounds_text()}"

    def _check_range(self, value: float) -> None:
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            raise self._fail(f"must be in {self.bounds_text()}, got {value}")

    def parse_grid(self, text: str) -> list[Any]:
        if ":" not in text:
            return super().parse_grid(text)
        parts = [p.strip() for p in text.split(":")]
        if len(parts) != 3 or not all(parts):
            raise self._fail(f"range must be start:stop:step, got {text!r}")
        start, stop, step = (self._parse_number(p) for p in parts)
        if step <= 0:
            raise self._fail(f"range step must be positive, got {text!r}")
        if stop < start:
            raise self._fail(f"range stop must not be below start, got {text!r}")
        count = int(math.floor((stop - start) / step + 1e-9)) + 1
        values = [self.coerce(self.number_type(start + i * step)) for i in range(count)]
        if self.number_type is float:
            # start + i*step accumulates no error, but 0.1-style steps still print as 0.30000000000000004.
            values = [round(v, 12) for v in values]
        return list(dict.fromkeys(values))

    def _parse_number(self, text: str) -> float:
        try:
            number = float(text)
        except ValueError:
            raise self._fail(f"expects {self._kind()}, got {text!r}") from None
        if self.number_type is int and not number.is_integer():
            raise self._fail(f"expects {self._kind()}, got {text!r}")
        return self.number_type(number)

    def spec(self) -> ParamSpec:
        return ParamSpec(
            name=self.name, type=self.type_name, default=self.default, min=self.min, max=self.max, doc=self.doc
        )


class IntParam(_NumberParam):
    """An integer parameter with optional inclusive bounds.

    Example
    -------
    >>> class Breakout(Strategy):
    ...     lookback = IntParam(20, min=2, max=500, doc="bars in the channel")
    """

    type_name = "int"
    number_type = int

    def coerce(self, value: Any) -> int:
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, (bool, np.bool_)):
            raise self._fail(f"expects {self._kind()}, got {value!r}")
        if isinstance(value, (int, np.integer)):
            result = int(value)
        elif isinstance(value, (float, np.floating)) and float(value).is_integer():
            # Grids and widgets often hand over 10.0 for 10; accept it, reject 10.5.
            result = int(value)
        else:
            raise self._fail(f"expects {self._kind()}, got {value!r}")
        self._check_range(result)
        return result

    def parse(self, text: str) -> int:
        try:
            number = int(text.strip())
        except ValueError:
            raise self._fail(f"expects {self._kind()}, got {text!r}") from None
        self._check_range(number)
        return number


class FloatParam(_NumberParam):
    """A real-valued parameter with optional inclusive bounds."""

    type_name = "float"
    number_type = float

    def coerce(self, value: Any) -> float:
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
            raise self._fail(f"expects {self._kind()}, got {value!r}")
        result = float(value)
        if not math.isfinite(result):
            raise self._fail(f"must be finite, got {value!r}")
        self._check_range(result)
        return result

    def parse(self, text: str) -> float:
        try:
            number = float(text.strip())
        except ValueError:
            raise self._fail(f"expects {self._kind()}, got {text!r}") from None
        return self.coerce(number)


class BoolParam(Param):
    """A true/false parameter; from text it accepts true/false, yes/no, on/off, 1/0."""

    type_name = "bool"

    def coerce(self, value: Any) -> bool:
        if isinstance(value, str):
            return self.parse(value)
        if isinstance(value, (bool, np.bool_)):
            return bool(value)
        if isinstance(value, (int, np.integer)) and value in (0, 1):
            return bool(value)
        raise self._fail(f"expects true or false, got {value!r}")

    def parse(self, text: str) -> bool:
        word = text.strip().lower()
        if word in _TRUE_WORDS:
            return True
        if word in _FALSE_WORDS:
            return False
        raise self._fail(f"expects true or false, got {text!r}")

    def bounds_text(self) -> str:
        return "true|false"


class ChoiceParam(Param):
    """A parameter taking one of a fixed set of values (strings, usually)."""

    type_name = "choice"

    def __init__(self, default: Any, choices: Sequence[Any], *, doc: str = "") -> None:
        if not choices:
            raise StrategyError("ChoiceParam needs at least one choice")
        self.choices = tuple(choices)
        super().__init__(default, doc=doc)

    def coerce(self, value: Any) -> Any:
        if value in self.choices:
            return value
        if isinstance(value, str):
            # From the command line every choice arrives as text; match on the text form.
            for choice in self.choices:
                if str(choice) == value.strip():
                    return choice
        raise self._fail(f"must be one of {self.bounds_text()}, got {value!r}")

    def bounds_text(self) -> str:
        return "|".join(str(c) for c in self.choices)

    def spec(self) -> ParamSpec:
        return ParamSpec(
            name=self.name, type=self.type_name, default=self.default, choices=self.choices, doc=self.doc
        )


def _snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


class GridCache:
    """A byte-bounded memo of arrays shared by the chunks of one sweep.

    Keys are whatever the strategy chooses (``("sma", 20)``); the least recently used arrays are
    dropped once ``max_bytes`` is exceeded, so a sweep's memory stays bounded however many
    distinct windows its grid holds.
    """

    def __init__(self, max_bytes: int | None = None) -> None:
        self.max_bytes = max_bytes
        self._arrays: OrderedDict[Hashable, np.ndarray] = OrderedDict()
        self._bytes = 0

    def get(self, key: Hashable, compute: Callable[[], np.ndarray]) -> np.ndarray:
        """Return the array stored under ``key``, computing (and storing) it on first use."""
        if key in self._arrays:
            self._arrays.move_to_end(key)
            return self._arrays[key]
        value = compute()
        self._arrays[key] = value
        self._bytes += value.nbytes
        while self.max_bytes is not None and self._bytes > self.max_bytes and len(self._arrays) > 1:
            _, dropped = self._arrays.popitem(last=False)
            self._bytes -= dropped.nbytes
        return value

    @property
    def nbytes(self) -> int:
        return self._bytes


@contextmanager
def _naming_strategy(name: str) -> Iterator[None]:
    """Prefix parameter errors with the strategy's name, once, so the message says whose parameter."""
    try:
        yield
    except StrategyError as exc:
        message = str(exc)
        if message.startswith(f"{name}: "):
            raise
        raise StrategyError(f"{name}: {message}") from None


#: The most bars the live engine keeps for a ``full_history`` strategy (a year of hourly bars is
#: 8,760); beyond it the window rolls, which ``tradepulse check`` reports as finite memory.
FULL_HISTORY_BARS = 50_000


def live_window_bars(strategy: Strategy, configured: int | None = None) -> int:
    """The bars the live engine keeps for ``strategy``: its warm-up (or a configured larger window), or its whole history."""
    if strategy.full_history:
        return max(FULL_HISTORY_BARS, configured or 0)
    return max(configured or 0, strategy.warmup_bars, 1)


class IncrementalSignals(Protocol):
    """A strategy's optional per-bar form (:meth:`Strategy.incremental`)."""

    def update(self, open: float, high: float, low: float, close: float, volume: float) -> float:
        """Take the next closed bar; return the target for it (NaN means flat)."""
        ...


class Strategy:
    """Base class of every strategy: typed parameters plus one causal ``signals(bars)`` method.

    Subclasses declare parameters as class attributes, implement :meth:`signals`, and may override
    :meth:`check` (cross-parameter rules), :attr:`warmup_bars` and :meth:`signals_grid`.

    Example
    -------
    >>> class Momentum(Strategy):
    ...     '''Long when the close is above its close ``lookback`` bars ago.'''
    ...     lookback = IntParam(24, min=1, max=1000, doc="bars to look back")
    ...     @property
    ...     def warmup_bars(self) -> int:
    ...         return self.lookback + 1
    ...     def signals(self, bars):
    ...         return (bars["close"] > bars["close"].shift(self.lookback)).astype(float)
    >>> Momentum(lookback=12).params
    {'lookback': 12}
    """

    #: Name used on the command line and in reports; defaults to the class name in snake_case.
    name: ClassVar[str] = ""
    #: ``True`` when a bar's target depends on every bar before it, not on a fixed number of them:
    #: a strategy that remembers its own position (enter outside a band, hold until back inside).
    #: The live engine then evaluates it on every bar since its first (journaled bars included, up
    #: to :data:`FULL_HISTORY_BARS`), as the backtest does, instead of a ``warmup_bars`` window.
    full_history: ClassVar[bool] = False
    _param_defs: ClassVar[dict[str, Param]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "name" not in cls.__dict__ or not cls.__dict__["name"]:
            cls.name = _snake_case(cls.__name__)
        params: dict[str, Param] = {}
        for klass in reversed(cls.__mro__):
            for attr, value in vars(klass).items():
                if isinstance(value, Param):
                    params[attr] = value
                elif attr in params:
                    # A subclass may hide an inherited parameter by assigning a plain value.
                    del params[attr]
        cls._param_defs = params
        # A bad default is a bug in the strategy: fail when the class is defined, not when it runs.
        with _naming_strategy(cls.name):
            for name, param in params.items():
                if name in cls.__dict__:
                    param.default = param.coerce(param.default)

    def __init__(self, **params: Any) -> None:
        defs = type(self)._param_defs
        unknown = sorted(set(params) - set(defs))
        if unknown:
            raise StrategyError(
                f"{self.name}: unknown parameter {unknown[0]!r}; "
                f"known parameters: {', '.join(defs) or '(none)'}"
            )
        with _naming_strategy(self.name):
            self._values = {
                name: (param.coerce(params[name]) if name in params else param.default)
                for name, param in defs.items()
            }
            self.check()

    # -- parameters -----------------------------------------------------------------------------

    @classmethod
    def param_specs(cls) -> list[ParamSpec]:
        """Describe every parameter (name, type, default, bounds, choices, doc) in declaration order."""
        return [param.spec() for param in cls._param_defs.values()]

    @classmethod
    def param(cls, name: str) -> Param:
        """Return the declaration of parameter ``name`` (raises StrategyError for an unknown name)."""
        try:
            return cls._param_defs[name]
        except KeyError:
            raise StrategyError(
                f"{cls.name}: unknown parameter {name!r}; "
                f"known parameters: {', '.join(cls._param_defs) or '(none)'}"
            ) from None

    @classmethod
    def from_strings(cls, raw: Mapping[str, str]) -> Strategy:
        """Build a strategy from command-line text such as ``{"fast": "10", "allow_short": "yes"}``."""
        return cls(**cls.parse_params(raw))

    @classmethod
    def parse_params(cls, raw: Mapping[str, str]) -> dict[str, Any]:
        """Parse parameter text into checked values, without the cross-parameter rules of :meth:`check`."""
        with _naming_strategy(cls.name):
            return {name: cls.param(name).parse(text) for name, text in raw.items()}

    @classmethod
    def parse_grid(cls, raw: Mapping[str, str]) -> dict[str, list[Any]]:
        """Parse sweep axes from text: ``{"fast": "5:50:5", "slow": "100,200"}`` to lists of values."""
        with _naming_strategy(cls.name):
            return {name: cls.param(name).parse_grid(text) for name, text in raw.items()}

    @classmethod
    def describe(cls) -> str:
        """Return the first line of the class docstring (used by ``tradepulse strategies``)."""
        doc = (cls.__doc__ or "").strip()
        return doc.splitlines()[0] if doc else ""

    @property
    def params(self) -> dict[str, Any]:
        """The parameter values of this instance (a copy)."""
        return dict(self._values)

    def with_params(self, **changes: Any) -> Strategy:
        """Return a new strategy of the same class with some parameters changed."""
        return type(self)(**{**self._values, **changes})

    def check(self) -> None:
        """Check rules spanning several parameters (e.g. ``fast < slow``); raise StrategyError if broken."""

    # -- evaluation -----------------------------------------------------------------------------

    @property
    def warmup_bars(self) -> int:
        """Bars of history ``signals`` needs before its last row equals the full-history value.

        The live engine keeps a rolling window at least this long; the backtest needs nothing
        from it. Override when the strategy looks back (the default, 1, means "no memory").
        """
        return 1

    def signals(self, bars: pd.DataFrame) -> pd.Series:
        """Return target exposure per bar in [-1, 1] (1 = all equity long, -1 = all equity short).

        The value at bar ``t`` is decided at ``t``'s close and may only use bars up to ``t``.
        NaN means flat. The backtest fills it at bar ``t+1``'s open.
        """
        raise NotImplementedError(f"strategy {self.name!r} does not implement signals(bars)")

    def incremental(self) -> IncrementalSignals | None:
        """Optionally, an object that turns each closed bar into the latest target without a frame.

        The live engine then calls ``update(open, high, low, close, volume)`` once per closed bar
        instead of evaluating :meth:`signals` on a rolling window, which costs a DataFrame and
        pandas per bar. What it returns must equal ``latest_target`` on the same bars bit for bit
        (tests hold that for the built-ins that offer it); ``None`` (the default) keeps the simple
        form.
        """
        return None

    def latest_target(self, bars: pd.DataFrame) -> float:
        """Return the target for the last bar of ``bars`` (what the live engine acts on)."""
        value = float(self.signals(bars).iloc[-1])
        return 0.0 if math.isnan(value) else value

    @classmethod
    def signals_grid(
        cls, bars: pd.DataFrame, combos: Sequence[Mapping[str, Any]], cache: GridCache | None = None
    ) -> np.ndarray:
        """Return a ``(len(bars), len(combos))`` float array of targets, one column per parameter set.

        Sweeps call this once per chunk of combinations, passing the same ``cache`` to every chunk
        of a run so intermediate arrays (a moving average used by many combinations) are computed
        once. The default evaluates the combinations one by one; strategies whose signals share work
        override it with a vectorised version that must agree with :meth:`signals` column by column.
        """
        out = np.empty((len(bars), len(combos)), dtype=np.float64)
        for column, combo in enumerate(combos):
            out[:, column] = np.asarray(cls(**combo).signals(bars), dtype=np.float64)
        return out

    # -- plumbing -------------------------------------------------------------------------------

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self._values.items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other._values == self._values  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((type(self), tuple(self._values.items())))
