"""A strategy's source as one self-contained Python file, wherever the class was defined.

A strategy promoted from a notebook must run in the service, which has no notebook: its version
carries its source. Three origins:

* a file (``path/to/file.py:Class``) or an importable module: the whole module's source, which
  holds its own imports;
* a class defined in a notebook cell (or any ``__main__``): the class's source, plus what it
  uses from the notebook's namespace, found by reading the names the class refers to:
  modules become ``import`` lines, functions and classes defined in the notebook their source,
  and plain constants (numbers, text, tuples of them) an assignment. A name that is none of these
  (an open file, a DataFrame) cannot travel, and capturing says which.

The result is checked by running it in a fresh interpreter, where it must define the class.
"""

from __future__ import annotations

import ast
import builtins
import hashlib
import inspect
import linecache
import subprocess
import sys
import textwrap
import types
from dataclasses import dataclass
from typing import Any

from tradepulse.errors import StrategyError
from tradepulse.strategy.base import Strategy

__all__ = ["CapturedSource", "capture_source", "load_captured"]

_PLAIN = (bool, int, float, str, bytes, type(None))


@dataclass(frozen=True)
class CapturedSource:
    """The file that defines ``class_name``, where it came from, and its SHA-256."""

    text: str
    class_name: str
    origin: str  # "file", "module" or "notebook"

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def capture_source(cls: type[Strategy]) -> CapturedSource:
    """Capture ``cls``'s source so that it runs outside the process that defined it."""
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyError(f"only Strategy subclasses can be captured, got {cls!r}")
    module = sys.modules.get(cls.__module__)
    if cls.__module__ == "__main__" or module is None or getattr(module, "__file__", None) is None:
        return CapturedSource(_capture_from_namespace(cls, vars(module) if module is not None else {}), cls.__name__, "notebook")
    try:
        text = inspect.getsource(module)
    except (OSError, TypeError) as error:
        raise StrategyError(f"the source of {cls.__module__} cannot be read ({error})") from None
    origin = "file" if cls.__module__.startswith("tradepulse_user_strategy_") else "module"
    return CapturedSource(text, cls.__name__, origin)


def _class_source_from_methods(cls: type) -> str | None:
    """A class's source found through its methods' code, for classes whose module has no file.

    ``inspect.getsource`` finds a class through its module's file, which a notebook's ``__main__``
    lacks (Python 3.11); its methods' code still names the cell (kept in ``linecache``), whose
    source holds the class statement.
    """
    for value in vars(cls).values():
        function = value.fget if isinstance(value, property) else getattr(value, "__func__", value)
        code = getattr(function, "__code__", None)
        if code is None:
            continue
        text = "".join(linecache.getlines(code.co_filename))
        if not text:
            continue
        candidates = [node for node in ast.walk(ast.parse(text)) if isinstance(node, ast.ClassDef) and node.name == cls.__name__
                      and node.lineno <= code.co_firstlineno <= (node.end_lineno or node.lineno)]
        if candidates:
            return ast.get_source_segment(text, candidates[-1], padded=True)
    return None


def _source_of(obj: Any) -> str:
    if isinstance(obj, type):
        found = _class_source_from_methods(obj)
        if found is not None:
            return textwrap.dedent(found)
    try:
        return textwrap.dedent(inspect.getsource(obj))
    except (OSError, TypeError) as error:
        raise StrategyError(f"the source of {getattr(obj, '__qualname__', obj)!r} cannot be read ({error}); "
                            "define it in a cell or a file") from None


def _free_names(source: str) -> list[str]:
    """Names the code reads that it does not bind itself, in first-use order."""
    tree = ast.parse(source)
    bound: set[str] = set()
    used: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
            for argument in (*node.args.posonlyargs, *node.args.args, *node.args.kwonlyargs) if hasattr(node, "args") else ():
                bound.add(argument.arg)
            if hasattr(node, "args"):
                for extra in (node.args.vararg, node.args.kwarg):
                    if extra is not None:
                        bound.add(extra.arg)
        elif isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Store):
                bound.add(node.id)
            elif node.id not in used:
                used.append(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
    return [name for name in used if name not in bound and not hasattr(builtins, name)]


def _capture_from_namespace(cls: type[Strategy], namespace: dict[str, Any]) -> str:
    imports: list[str] = []
    definitions: list[str] = []
    done: set[str] = set()

    def need(source: str) -> None:
        for name in _free_names(source):
            if name in done:
                continue
            done.add(name)
            if name not in namespace:
                raise StrategyError(f"{cls.__name__} uses {name!r}, which is not defined where the class is")
            value = namespace[name]
            if isinstance(value, types.ModuleType):
                imports.append(f"import {value.__name__}" if value.__name__ == name else f"import {value.__name__} as {name}")
            elif (isinstance(value, type) or inspect.isfunction(value)) and value.__module__ != cls.__module__:
                imports.append(f"from {value.__module__} import {value.__qualname__}"
                               + (f" as {name}" if value.__qualname__ != name else ""))
            elif isinstance(value, type) or inspect.isfunction(value):
                source_text = _source_of(value)
                need(source_text)
                definitions.append(source_text)
            elif isinstance(value, _PLAIN) or (isinstance(value, tuple) and all(isinstance(item, _PLAIN) for item in value)):
                definitions.append(f"{name} = {value!r}")
            else:
                raise StrategyError(f"{cls.__name__} uses {name} (a {type(value).__name__}), which cannot be captured with its "
                                    "source; pass it as a parameter or define it inside the class")

    source = _source_of(cls)
    need(source)
    header = f'"""{cls.__name__}, captured from a notebook by tradepulse."""\n\nfrom __future__ import annotations\n\n'
    body = "\n\n".join([*definitions, source])
    return header + "\n".join(sorted(set(imports))) + "\n\n\n" + body.strip() + "\n"


def load_captured(text: str, class_name: str) -> type[Strategy]:
    """Define the captured source in a module of its own and return the class (what the service does)."""
    module = types.ModuleType(f"tradepulse_captured_{hashlib.sha256(text.encode()).hexdigest()[:12]}")
    sys.modules[module.__name__] = module
    try:
        exec(compile(text, f"<captured {class_name}>", "exec"), module.__dict__)  # noqa: S102 - the version's own source
    except Exception as error:  # noqa: BLE001 - user code: one line saying what failed
        sys.modules.pop(module.__name__, None)
        raise StrategyError(f"the captured source of {class_name} does not run: {type(error).__name__}: {error}") from None
    cls = module.__dict__.get(class_name)
    if not (isinstance(cls, type) and issubclass(cls, Strategy)):
        raise StrategyError(f"the captured source does not define the strategy {class_name}")
    return cls


def verify_elsewhere(text: str, class_name: str, params: dict[str, Any]) -> None:
    """Run the captured source in a fresh interpreter: it must define the class and accept ``params``."""
    import json

    probe = (
        "import json, sys\n"
        "from tradepulse.promotion.capture import load_captured\n"
        "source = sys.stdin.read()\n"
        f"cls = load_captured(source, {class_name!r})\n"
        f"cls(**json.loads({json.dumps(json.dumps(params))}))\n"
    )
    completed = subprocess.run([sys.executable, "-c", probe], input=text, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        last = (completed.stderr.strip().splitlines() or ["(no message)"])[-1]
        raise StrategyError(f"the captured source of {class_name} does not run on its own: {last}")
