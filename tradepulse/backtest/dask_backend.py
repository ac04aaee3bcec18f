"""Sweeps and walk-forward runs on a Dask cluster: the same tables as one process, computed by workers.

``run_sweep``, ``run_walkforward`` and their portfolio variants take ``dask=``:

- ``"local"``: a :class:`distributed.LocalCluster` of ``dask_workers`` worker processes (default:
  one per core), one thread each, each with a memory limit of ``dask_worker_memory``
  (default :data:`DEFAULT_WORKER_MEMORY`), started for the run and stopped after it;
- ``"tcp://HOST:PORT"``: a running scheduler (``dask scheduler`` and ``dask worker`` from the
  ``distributed`` package), reached within ``DEFAULT_CONNECT_TIMEOUT`` seconds or a clear error;
- a :class:`distributed.Client`: used as it is and left open (a notebook's own cluster).

How a run goes. The bars (or the universe) are sent to every worker once (``scatter``), and tasks
refer to that one copy. The grid is cut into consecutive parts of combinations; a task evaluates
one part on one window (the whole data for a sweep, one training window per walk-forward fold) and
returns only that part's statistics, one number per statistic and combination, never equity
curves. The parts are gathered in submission order and joined per window, so the table is the
one the single-process run builds: every part is computed with the whole grid's signal history,
and every combination's column is simulated on its own, so the figures are equal bit for bit
(tested against the single-process run).

Memory. A task's budget (the chunking of :mod:`tradepulse.backtest.sweep`) is the run's
``memory_budget_bytes``, capped at :data:`TASK_MEMORY_SHARE` of its worker's memory limit per
thread, so a worker's memory stays under its limit whatever budget the run asked for.
"""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from tradepulse.backtest.search import chunks, stats_table
from tradepulse.errors import ConfigError, TradePulseError
from tradepulse.strategy.base import Strategy

if TYPE_CHECKING:
    from distributed import Client

__all__ = [
    "DEFAULT_CONNECT_TIMEOUT",
    "DEFAULT_WORKER_MEMORY",
    "LOCAL",
    "TASKS_PER_THREAD",
    "TASK_MEMORY_SHARE",
    "DaskError",
    "backtest_part",
    "check_dask_options",
    "combos_per_task",
    "dask_client",
    "evaluate_windows",
    "windows_on_dask",
]

#: ``dask="local"``: start a LocalCluster for the run.
LOCAL = "local"
#: Memory limit of each LocalCluster worker process (``dask_worker_memory`` overrides it).
DEFAULT_WORKER_MEMORY = 4 * 1024**3
#: Seconds to reach a scheduler (and for it to have a worker) before the run fails with one line.
DEFAULT_CONNECT_TIMEOUT = 10.0
#: Share of a worker's memory limit (per thread) one task's chunking budget may take; the rest is
#: the worker process itself (Python, pandas, vectorbt, the scattered bars) and headroom below
#: distributed's own thresholds (it pauses a worker at 80% of its limit).
TASK_MEMORY_SHARE = 0.5
#: Tasks per worker thread a window's grid is cut into, so that workers finishing early take more.
TASKS_PER_THREAD = 4

Window = tuple[int, int]
Evaluate = Callable[..., dict[str, np.ndarray]]


class DaskError(TradePulseError):
    """The Dask cluster could not be reached, or lost a worker or its scheduler during a run."""


def check_dask_options(dask: Any, workers: int | None = None, worker_memory: int | str | None = None) -> None:
    """Refuse settings that cannot work before any data is read or any cluster started."""
    if dask is None:
        if workers is not None or worker_memory is not None:
            raise ConfigError("--dask-workers and the worker memory limit need --dask local (dask='local')")
        return
    if isinstance(dask, str):
        if dask != LOCAL and "://" not in dask:
            raise ConfigError(f"--dask takes 'local' or a scheduler address such as tcp://HOST:PORT, got {dask!r}")
        if dask != LOCAL and (workers is not None or worker_memory is not None):
            raise ConfigError("--dask-workers and the worker memory limit apply to --dask local only; "
                              "a scheduler's workers are started with `dask worker`")
    elif not _is_client(dask):
        raise ConfigError(f"dask must be 'local', a scheduler address or a distributed.Client, got {type(dask).__name__}")
    elif workers is not None or worker_memory is not None:
        raise ConfigError("dask_workers and dask_worker_memory apply to dask='local' only; a Client's cluster is already sized")
    if workers is not None and workers < 1:
        raise ConfigError(f"--dask-workers must be at least 1, got {workers}")
    if worker_memory is not None:
        _memory_bytes(worker_memory)


def _is_client(value: Any) -> bool:
    if "distributed" not in sys.modules:
        return False  # a Client exists only once distributed is imported
    from distributed import Client

    return isinstance(value, Client)


def _memory_bytes(value: int | str) -> int:
    from dask.utils import parse_bytes

    try:
        number = int(parse_bytes(value))
    except (ValueError, TypeError):
        raise ConfigError(f"worker memory must be bytes or a size such as '2GiB', got {value!r}") from None
    if number <= 0:
        raise ConfigError(f"worker memory must be positive, got {value!r}")
    return number


@contextmanager
def dask_client(
    dask: str | Client,
    *,
    workers: int | None = None,
    worker_memory: int | str | None = None,
    timeout: float = DEFAULT_CONNECT_TIMEOUT,
) -> Iterator[Client]:
    """Yield a client for ``dask`` with at least one worker; close what this call started.

    A scheduler that cannot be reached within ``timeout`` seconds, or that has no worker by then,
    is a :class:`DaskError` naming the address.
    """
    check_dask_options(dask, workers, worker_memory)
    if not isinstance(dask, str):
        yield dask
        return
    import logging

    from distributed import Client, LocalCluster

    if dask == LOCAL:
        cluster = LocalCluster(
            n_workers=workers or os.cpu_count() or 1,
            threads_per_worker=1,
            processes=True,
            memory_limit=_memory_bytes(worker_memory) if worker_memory is not None else DEFAULT_WORKER_MEMORY,
            host="127.0.0.1",
            dashboard_address=None,
            # No dashboard; the scheduler's small HTTP server (health checks) on any free loopback port.
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.ERROR,
        )
        try:
            with Client(cluster, set_as_default=False) as client:
                yield client
        finally:
            cluster.close()
        return
    try:
        client = Client(dask, timeout=timeout, set_as_default=False)
    except ValueError as exc:
        raise ConfigError(f"--dask {dask}: {exc}") from None
    except (OSError, TimeoutError) as exc:
        cause = "" if "Timed out" in str(exc) else f" ({exc})"
        raise DaskError(
            f"cannot reach a Dask scheduler at {dask} within {timeout:g} s{cause}; start one with "
            "`dask scheduler` and `dask worker ADDRESS`, or use --dask local"
        ) from None
    try:
        try:
            client.wait_for_workers(1, timeout=timeout)
        except (OSError, TimeoutError):
            raise DaskError(f"the Dask scheduler at {dask} has no worker after {timeout:g} s; start one with `dask worker {dask}`") from None
        yield client
    finally:
        client.close()


def combos_per_task(n_combos: int, n_windows: int, threads: int) -> int:
    """Combinations per task: each window's grid in about ``TASKS_PER_THREAD * threads / windows`` parts."""
    target_tasks = max(1, threads) * TASKS_PER_THREAD
    parts_per_window = max(1, math.ceil(target_tasks / max(1, n_windows)))
    return max(1, math.ceil(n_combos / parts_per_window))


def _capacity(client: Client, memory_budget_bytes: int) -> tuple[int, int]:
    """Return the cluster's worker threads and the chunking budget one task may use."""
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    threads = sum(int(worker.get("nthreads", 1)) for worker in workers.values()) or 1
    budget = memory_budget_bytes
    for worker in workers.values():
        limit = int(worker.get("memory_limit") or 0)
        if limit > 0:
            budget = min(budget, int(limit * TASK_MEMORY_SHARE / max(1, int(worker.get("nthreads", 1)))))
    return threads, max(1, budget)


class _ByValue:
    """A strategy class sent by value: workers need not be able to import the user's file or notebook."""

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        import cloudpickle

        module = sys.modules.get(self.obj.__module__)
        registered = module is None or module.__name__ == "__main__" or module.__name__ in cloudpickle.list_registry_pickle_by_value()
        if not registered:
            cloudpickle.register_pickle_by_value(module)
        try:
            return cloudpickle.loads, (cloudpickle.dumps(self.obj),)
        finally:
            if not registered:
                cloudpickle.unregister_pickle_by_value(module)


def _shippable(cls: type[Strategy]) -> Any:
    """The class itself when workers import it by name (TradePulse's own); else a by-value wrapper."""
    return cls if cls.__module__.split(".")[0] == "tradepulse" else _ByValue(cls)


def backtest_part(
    evaluate: Evaluate,
    data: Any,
    strategy: Any,
    combos: Sequence[Mapping[str, Any]],
    start: int,
    end: int,
    history: int,
    costs: Any,
    init_cash: float,
    budget: int,
) -> dict[str, np.ndarray]:
    """One task: ``evaluate`` (``combo_stats`` or ``portfolio_combo_stats``) on one part of the grid and one window."""
    cls = strategy.obj if isinstance(strategy, _ByValue) else strategy
    return evaluate(
        data, cls, combos, start=start, end=end, costs=costs, init_cash=init_cash, memory_budget_bytes=budget, history=history
    )


def evaluate_windows(
    client: Client,
    evaluate: Evaluate,
    data: Any,
    cls: type[Strategy],
    combos: Sequence[Mapping[str, Any]],
    windows: Sequence[Window],
    *,
    history: int,
    costs: Any,
    init_cash: float,
    memory_budget_bytes: int,
    progress: bool | None = None,
    per_task: int | None = None,
) -> list[dict[str, np.ndarray]]:
    """Return ``evaluate``'s statistics of every combination on each window, computed by ``client``'s workers.

    ``per_task`` combinations make one task (default :func:`combos_per_task`); the result per
    window is in ``combos`` order, as the single-process run returns it.
    """
    from distributed import KilledWorker

    threads, budget = _capacity(client, memory_budget_bytes)
    per_task = per_task or combos_per_task(len(combos), len(windows), threads)
    parts = [list(part) for part in chunks(list(combos), per_task)]
    shipped = _shippable(cls)
    data_future = client.scatter(data, broadcast=True, hash=False)
    futures = [
        client.submit(backtest_part, evaluate, data_future, shipped, part, start, end, history, costs, init_cash, budget, pure=False)
        for start, end in windows
        for part in parts
    ]
    try:
        _show_progress(client, futures, [len(part) for _ in windows for part in parts], progress)
        results = client.gather(futures)
    except KilledWorker as exc:
        last = getattr(getattr(exc, "last_worker", None), "address", "unknown")
        raise DaskError(
            f"a Dask worker died running a part of the grid (the last one tried was {last}); most often it ran past "
            "its memory limit: give workers more memory (--dask-worker-memory-mb, `dask worker --memory-limit`) "
            "or lower the memory budget"
        ) from None
    except ImportError as exc:
        raise DaskError(
            f"a Dask worker cannot import {exc.name or str(exc)!r}: install it on the workers, with TradePulse at this "
            "version; a strategy's own file or notebook class is sent with the run, the modules it imports are not"
        ) from None
    except (OSError, TimeoutError) as exc:
        raise DaskError(f"lost the Dask scheduler during the run ({type(exc).__name__}: {exc})") from None
    finally:
        client.cancel([*futures, data_future])
    tables = []
    for number in range(len(windows)):
        own = results[number * len(parts) : (number + 1) * len(parts)]
        tables.append({name: np.concatenate([part[name] for part in own]) for name in own[0]})
    return tables


def _in_notebook() -> bool:
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return getattr(shell, "kernel", None) is not None


def _show_progress(client: Client, futures: list[Any], sizes: list[int], progress: bool | None) -> None:
    """Notebook kernels get distributed's progress widget (unless ``progress`` is False); elsewhere a
    tqdm bar on stderr counting combinations when ``progress`` is True, returning when all are done."""
    if progress is False:
        return
    if _in_notebook():
        from distributed import progress as widget
        from IPython.display import display

        bar = widget(futures, notebook=True, scheduler=client.scheduler.address)
        # Displayed now and fed from the client's event loop (a thread of its own): the kernel's loop,
        # which the widget would use by itself, is blocked until the run returns.
        client.loop.add_callback(bar.listen)
        display(bar.widget)
        return
    if not progress:
        return
    from distributed import as_completed
    from tqdm import tqdm

    size_of = {future.key: size for future, size in zip(futures, sizes, strict=True)}
    with tqdm(total=sum(sizes), unit="combo", desc="sweep on dask", leave=False, file=sys.stderr) as bar:
        for future in as_completed(futures, loop=client.loop):
            if future.status == "error":
                return  # gather raises it
            bar.update(size_of[future.key])


def windows_on_dask(
    dask: str | Client,
    evaluate: Evaluate,
    data: Any,
    cls: type[Strategy],
    combos: Sequence[Mapping[str, Any]],
    windows: Sequence[Window],
    *,
    history: int,
    costs: Any,
    init_cash: float,
    memory_budget_bytes: int,
    progress: bool | None = None,
    workers: int | None = None,
    worker_memory: int | str | None = None,
) -> list[pd.DataFrame]:
    """Connect (:func:`dask_client`), evaluate every window (:func:`evaluate_windows`), return the unranked tables."""
    if memory_budget_bytes <= 0:
        raise ConfigError(f"memory budget must be positive, got {memory_budget_bytes!r}")
    with dask_client(dask, workers=workers, worker_memory=worker_memory) as client:
        columns = evaluate_windows(
            client, evaluate, data, cls, combos, windows, history=history, costs=costs, init_cash=init_cash,
            memory_budget_bytes=memory_budget_bytes, progress=progress,
        )
    return [stats_table(combos, window) for window in columns]


def training_tables(
    evaluate_here: Callable[..., pd.DataFrame],
    evaluate_on_dask: Evaluate,
    history: Callable[[type[Strategy], Sequence[Mapping[str, Any]]], int],
    data: Any,
    cls: type[Strategy],
    combos: Sequence[Mapping[str, Any]],
    windows: list[tuple[int, int]],
    *,
    costs: Any,
    init_cash: float,
    memory_budget_bytes: int,
    progress: bool | None,
    dask: str | Client | None,
    dask_workers: int | None,
    dask_worker_memory: int | str | None,
) -> Iterator[pd.DataFrame]:
    """Each walk-forward training window's unranked table: fold by fold in this process
    (``evaluate_here``), or every fold at once on Dask (``evaluate_on_dask`` per chunk) with an
    identical result. One function for the single-symbol and the portfolio walk-forward."""
    if dask is None:
        for start, end in windows:
            yield evaluate_here(data, cls, combos, start=start, end=end, costs=costs, init_cash=init_cash,
                                memory_budget_bytes=memory_budget_bytes, progress=progress)
        return
    yield from windows_on_dask(
        dask, evaluate_on_dask, data, cls, combos, windows, history=history(cls, combos), costs=costs, init_cash=init_cash,
        memory_budget_bytes=memory_budget_bytes, progress=progress, workers=dask_workers, worker_memory=dask_worker_memory,
    )
