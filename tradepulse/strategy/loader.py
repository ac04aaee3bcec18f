"""Find a strategy class by built-in name, ``package.module:Class`` or ``path/to/file.py[:Class]``."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from types import ModuleType

from tradepulse.errors import StrategyError
from tradepulse.strategy.base import Strategy

__all__ = ["load_strategy", "list_strategies"]

_HOW_TO_NAME = "give a built-in name ({names}), package.module:Class, or path/to/file.py[:Class]"


def list_strategies(portfolio: bool | None = None) -> dict[str, type[Strategy]]:
    """Return the built-in strategies by name.

    ``portfolio=True`` keeps the portfolio strategies (weights over a universe), ``False`` the
    single-symbol ones, ``None`` (the default) both.
    """
    return {
        name: cls
        for name, cls in _builtin_strategies().items()
        if portfolio is None or bool(getattr(cls, "is_portfolio", False)) == portfolio
    }


def load_strategy(spec: str | type[Strategy]) -> type[Strategy]:
    """Return the strategy class that ``spec`` names.

    Parameters
    ----------
    spec
        A built-in name (``sma_cross``), ``package.module:Class``, ``path/to/file.py:Class``, or
        ``path/to/file.py`` when the file defines exactly one Strategy subclass. A Strategy
        subclass is returned as it is.

    Raises
    ------
    StrategyError
        The name is unknown, the module or file cannot be found or imported, the class is missing,
        or it is not a Strategy subclass.

    Examples
    --------
    >>> load_strategy("sma_cross").name
    'sma_cross'
    """
    if isinstance(spec, type):
        return _require_strategy(spec, spec.__name__)
    text = str(spec).strip()
    if not text:
        raise StrategyError("no strategy given; " + _HOW_TO_NAME.format(names=_builtin_names()))
    path_text, class_name = split_file_spec(text)
    if path_text is not None:  # a file (no built-in name ends in .py): the built-ins need not be imported
        return _load_from_file(Path(path_text), class_name, text)
    builtins = _builtin_strategies()
    if text in builtins:
        return builtins[text]
    module_name, sep, class_name = text.partition(":")
    if sep and module_name and class_name:
        return _load_from_module(module_name, class_name, text)
    raise StrategyError(f"unknown strategy {text!r}; " + _HOW_TO_NAME.format(names=_builtin_names()))


def _builtin_names() -> str:
    return ", ".join(sorted(_builtin_strategies()))


def _builtin_strategies() -> dict[str, type[Strategy]]:
    # Imported when asked for: the built-ins pull in the indicators and numba (a quarter of a
    # second), which a process running a strategy from its own file never needs.
    from tradepulse.strategy.builtin import BUILTIN_STRATEGIES

    return BUILTIN_STRATEGIES


def split_file_spec(text: str) -> tuple[str | None, str | None]:
    """Split ``dir/file.py:Class`` into path and class; ``(None, None)`` when ``text`` names no .py file."""
    if text.endswith(".py"):
        return text, None
    head, sep, tail = text.rpartition(":")
    if sep and head.endswith(".py"):
        return head, tail or None
    return None, None


def _load_from_module(module_name: str, class_name: str, spec: str) -> type[Strategy]:
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if module_name == missing or module_name.startswith(missing + "."):
            raise StrategyError(
                f"strategy {spec!r}: no module named {module_name!r} (is it installed or on PYTHONPATH?)"
            ) from None
        raise StrategyError(f"strategy {spec!r}: importing {module_name!r} failed: {exc}") from None
    except Exception as exc:  # user code: any import-time error is a strategy that cannot load
        raise StrategyError(f"strategy {spec!r}: importing {module_name!r} failed: {type(exc).__name__}: {exc}") from None
    return _class_from_module(module, class_name, spec)


def _load_from_file(path: Path, class_name: str | None, spec: str) -> type[Strategy]:
    if not path.is_file():
        raise StrategyError(f"strategy file {str(path)!r} does not exist")
    module = _import_file(path, spec)
    if class_name is not None:
        return _class_from_module(module, class_name, spec)
    found = [
        obj
        for obj in vars(module).values()
        if inspect.isclass(obj) and issubclass(obj, Strategy) and obj.__module__ == module.__name__
    ]
    if not found:
        raise StrategyError(f"strategy file {str(path)!r} defines no Strategy subclass")
    if len(found) > 1:
        names = ", ".join(sorted(cls.__name__ for cls in found))
        raise StrategyError(
            f"strategy file {str(path)!r} defines several strategies ({names}); pick one with {path}:ClassName"
        )
    return found[0]


def _import_file(path: Path, spec: str) -> ModuleType:
    resolved = path.resolve()
    # A stable, unique module name per file: re-loading the same file reuses it, and two files
    # called strategy.py in different folders do not collide.
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:10]
    module_name = f"tradepulse_user_strategy_{resolved.stem}_{digest}"
    module_spec = importlib.util.spec_from_file_location(module_name, resolved)
    if module_spec is None or module_spec.loader is None:
        raise StrategyError(f"strategy {spec!r}: {str(path)!r} cannot be imported as Python")
    module = importlib.util.module_from_spec(module_spec)
    # Registered before executing so dataclasses, pickling and relative lookups inside the file work.
    sys.modules[module_name] = module
    try:
        module_spec.loader.exec_module(module)
    except Exception as exc:  # user code: report any import-time error as one line
        sys.modules.pop(module_name, None)
        raise StrategyError(f"strategy file {str(path)!r} failed to import: {type(exc).__name__}: {exc}") from None
    return module


def _class_from_module(module: ModuleType, class_name: str, spec: str) -> type[Strategy]:
    try:
        obj = getattr(module, class_name)
    except AttributeError:
        available = sorted(
            name for name, value in vars(module).items() if inspect.isclass(value) and issubclass(value, Strategy)
        )
        hint = f"; strategies there: {', '.join(available)}" if available else ""
        raise StrategyError(f"strategy {spec!r}: {module.__name__!r} has no class {class_name!r}{hint}") from None
    return _require_strategy(obj, spec)


def _require_strategy(obj: object, spec: str) -> type[Strategy]:
    if not (inspect.isclass(obj) and issubclass(obj, Strategy)) or obj is Strategy:
        raise StrategyError(f"strategy {spec!r} is not a tradepulse Strategy subclass")
    return obj
