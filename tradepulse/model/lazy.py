"""Package attributes loaded on first use (PEP 562), for packages whose modules are slow to import.

A package lists which module defines each lazy name and sets ``__getattr__`` to
``lazy_attributes(__name__, names)``: ``import tradepulse.live`` then costs nothing until a name is
used, and the name's module is imported once, at that first use.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, modules: Mapping[str, str]) -> Callable[[str], Any]:
    """A module ``__getattr__`` for ``package``: ``modules`` maps each lazy name to the module defining it.

    The value is kept in the package once loaded, so later lookups never come back here.

    Examples
    --------
    >>> __getattr__ = lazy_attributes("mypackage", {"Engine": "mypackage.engine"})  # doctest: +SKIP
    """

    def __getattr__(name: str) -> Any:
        module = modules.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        setattr(sys.modules[package], name, value)
        return value

    return __getattr__
