"""What every explorer shares: controls beside the output, a status line, a background worker."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any, ClassVar

import ipywidgets as widgets

from tradepulse.errors import TradePulseError
from tradepulse.widgets._background import BUSY, ERROR, IDLE, LatestOnlyWorker
from tradepulse.widgets._controls import StatusBar

__all__ = ["Explorer"]

logger = logging.getLogger(__name__)

_CONTROLS_LAYOUT = {"width": "340px", "min_width": "300px", "padding": "0 12px 0 0"}
_OUTPUT_LAYOUT = {"flex": "1 1 auto", "min_width": "0"}


class Explorer(widgets.VBox):
    """Base of the explorers: a controls column, an output column under a status line.

    Subclasses implement ``_inputs()`` (snapshot the controls, main thread), ``_compute(inputs)``
    (worker thread, may be slow, raises TradePulseError for bad input), ``_layout(first)``
    (creates the output widgets with the first result, returns both columns) and ``_apply(output)`` (set traits;
    worker thread), and keep the last applied output, with a ``summary`` string, in ``self._output``.
    """

    #: Start of the status line when a computation fails ("Could not run the backtest: ...").
    failure_prefix: ClassVar[str] = "Could not compute"
    #: Appended to the status line when up to date (a hint on what to do next).
    idle_hint: ClassVar[str] = ""

    def _build(self, *, css_class: str, debounce_s: float) -> None:
        """Compute the first result, then create the output widgets holding it, then lay out.

        The first result is computed here, on the calling thread, before any output widget
        exists, and each output widget is created with it as its initial state. Two reasons:
        a notebook cell, a papermill run and a preheated Voila kernel all show charts, not a
        spinner; and a plotly FigureWidget that is created empty and filled (from the worker
        thread) before JupyterLab has loaded its multi-megabyte front-end module sometimes drew
        an empty chart (seen in the browser tests). Created with its data, it draws what it holds.
        """
        started = time.perf_counter()
        error: str | None = None
        self._output: Any = None
        try:
            self._output = self._compute(self._inputs())
        except TradePulseError as exc:
            error = str(exc)
        except Exception as exc:  # noqa: BLE001 - shown in the widget, like any later failure
            logger.exception("widget computation failed")
            error = f"{type(exc).__name__}: {exc}"
        controls, outputs = self._layout(self._output)
        self._worker = LatestOnlyWorker(
            self._compute, self._apply, self._show_state, delay_s=debounce_s, name=css_class
        )
        self._worker.error, self._worker.seconds = error, time.perf_counter() - started
        self.status = StatusBar(*self._status_line(ERROR if error else IDLE, error))
        column = widgets.VBox(list(controls), layout=_CONTROLS_LAYOUT)
        output = widgets.VBox([self.status, *outputs], layout=_OUTPUT_LAYOUT)
        super().__init__([widgets.HBox([column, output], layout={"width": "100%"})], layout={"width": "100%"})
        self.add_class(css_class)

    # -- public -----------------------------------------------------------------------------------

    @property
    def error(self) -> str | None:
        """The message shown for the latest request if it failed, else ``None``."""
        return self._worker.error

    @property
    def busy(self) -> bool:
        """True from a control change until its result is shown."""
        return self._worker.busy

    def wait(self, timeout: float = 120.0) -> Explorer:
        """Block until the pending recompute (if any) has been shown; TimeoutError after ``timeout`` s."""
        self._worker.wait(timeout)
        return self

    def close(self) -> None:
        """Stop the background worker and close the widget."""
        # An explorer whose construction failed (bad input) has no worker yet; ipywidgets still
        # closes it when it is collected.
        worker = getattr(self, "_worker", None)
        if worker is not None:
            worker.close()
        super().close()

    # -- for subclasses ---------------------------------------------------------------------------

    def _changed(self, _change: Any = None) -> None:
        """Recompute after the quiet period (connect controls here)."""
        self._worker.request(self._inputs())

    def _request_now(self) -> None:
        self._worker.request(self._inputs(), delay_s=0)

    def _inputs(self) -> Any:
        raise NotImplementedError

    def _compute(self, inputs: Any) -> Any:
        raise NotImplementedError

    def _layout(self, first: Any) -> tuple[Sequence[widgets.Widget], Sequence[widgets.Widget]]:
        """Create the output widgets showing ``first`` (``None`` if it failed) and return the
        controls column and the output column (under the status line); called once."""
        raise NotImplementedError

    def _apply(self, output: Any) -> None:
        raise NotImplementedError

    def _status_line(self, state: str, message: str | None) -> tuple[str, str]:
        if state == BUSY:
            return BUSY, "Computing…"
        if state == ERROR:
            return ERROR, f"{self.failure_prefix}: {message}"
        summary = self._output.summary if self._output is not None else "Up to date"
        hint = f" · {self.idle_hint}" if self.idle_hint else ""
        return IDLE, f"{summary} · {self._worker.seconds or 0.0:.2f} s{hint}"

    def _show_state(self, state: str, message: str | None) -> None:
        self.status.show(*self._status_line(state, message))
