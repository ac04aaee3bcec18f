"""``ReportsBoard``: the scheduled research reports, their status and figures, and each rendered report.

It reads the job history ``tradepulse jobs scheduler`` and ``tradepulse jobs run`` write
(:mod:`tradepulse.jobs.history`): one row per run with its job, status, when, how long, the key
figures the report recorded (``record_results``) and its archived notebook. Failed and timed-out
runs stand out (red, with their error); a summary line counts them. Pick a run to read its report,
rendered from the archived notebook without code and with its charts drawn offline
(:func:`tradepulse.jobs.render.render_report_html`).
"""

from __future__ import annotations

import html
import math
import os
from pathlib import Path
from typing import Any

import ipywidgets as widgets

from tradepulse.errors import TradePulseError

__all__ = ["HISTORY_VARIABLE", "ReportsBoard"]

#: Where a dashboard server tells the page's kernel the job history is (the kernel runs elsewhere).
HISTORY_VARIABLE = "TRADEPULSE_JOBS_HISTORY"
#: Figures shown per run, when the report recorded them (others are in the report itself).
KEY_FIGURES = ("total_return", "sharpe", "max_drawdown", "trades", "final_equity")
_FAILED = ("failed", "timed_out", "cancelled", "error")
_CELL = "padding:2px 8px;border-bottom:1px solid #e3e3e3;white-space:nowrap;font-size:12.5px"


def _figure_text(key: str, value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int | float) and math.isfinite(value):
        if key in ("total_return", "max_drawdown"):
            return f"{value:.2%}"
        return f"{value:,.2f}" if isinstance(value, float) else f"{value:,}"
    return html.escape(str(value))


class ReportsBoard(widgets.VBox):
    """The job runs, newest first, and the selected run's report.

    Parameters
    ----------
    history
        The job history file (``jobs.sqlite``); default ``$TRADEPULSE_JOBS_HISTORY``, else the
        jobs' default (``$TRADEPULSE_STORE_DIR/jobs.sqlite`` or ``.tradepulse/jobs.sqlite`` here).
    limit
        Runs listed.
    """

    def __init__(self, history: str | Path | None = None, *, limit: int = 50) -> None:
        from tradepulse.jobs.history import resolve_store_path

        self.path = Path(history) if history is not None else (
            Path(os.environ[HISTORY_VARIABLE]) if os.environ.get(HISTORY_VARIABLE) else resolve_store_path())
        self.limit = limit
        self.summary = widgets.HTML(layout={"width": "100%"})
        self.table = widgets.HTML(layout={"width": "100%"})
        self.run_picker = widgets.Dropdown(description="Report", style={"description_width": "60px"}, layout={"width": "520px"})
        self.run_picker.add_class("tp-reports-run")
        self.refresh_button = widgets.Button(description="Refresh", icon="refresh", layout={"width": "auto"})
        self.refresh_button.add_class("tp-reports-refresh")
        self.report_view = widgets.HTML(layout={"width": "100%"})
        self.runs: list[dict[str, Any]] = []
        self.refresh_button.on_click(lambda _button: self.refresh())
        self.run_picker.observe(lambda change: self.show_report(change["new"]), "value")
        super().__init__([self.summary, self.table, widgets.HBox([self.run_picker, self.refresh_button]), self.report_view],
                         layout={"width": "100%"})
        self.add_class("tp-reports-board")
        self.refresh()

    @property
    def failures(self) -> list[dict[str, Any]]:
        """The listed runs that did not succeed."""
        return [run for run in self.runs if run["status"] in _FAILED]

    def refresh(self) -> ReportsBoard:
        """Read the history again and redraw."""
        from tradepulse.jobs.history import JobHistory

        if not self.path.is_file():
            self.runs = []
            self.summary.value = (f'<div class="tp-reports-summary" data-runs="0" style="color:#666">No report runs yet: no job '
                                  f"history at {html.escape(str(self.path))}. Schedule reports with "
                                  "<code>tradepulse jobs scheduler</code> or run one with <code>tradepulse jobs run</code>.</div>")
            self.table.value = ""
            self.run_picker.options = [("no runs", None)]
            return self
        try:
            entries = JobHistory(self.path).entries(limit=self.limit)
        except (TradePulseError, OSError) as error:
            self.summary.value = f'<div class="tp-reports-summary" style="color:#8b1a1a">Cannot read {html.escape(str(self.path))}: {html.escape(str(error))}</div>'
            return self
        self.runs = [entry.to_dict() for entry in entries]
        failed = self.failures
        color = "#8b1a1a" if failed else "#1d5e20"
        self.summary.value = (
            f'<div class="tp-reports-summary" data-runs="{len(self.runs)}" data-failed="{len(failed)}" style="margin:4px 0">'
            f'{len(self.runs)} run(s) · <span style="color:{color};font-weight:700">{len(failed)} failed</span>'
            + (f" · latest failure: {html.escape(failed[0]['job'])} at {html.escape(str(failed[0]['started_at']))}" if failed else "")
            + "</div>")
        self.table.value = self._table_html()
        with_report = [run for run in self.runs if run.get("archive_path") and Path(run["archive_path"]).is_file()]
        # The first choice is none: a report is rendered when asked for, not on every page load.
        options = [("pick a run to read its report", None),
                   *[(f"{run['job']} · {run['started_at']} · {run['status']}", run["run_id"]) for run in with_report]]
        current = self.run_picker.value
        self.run_picker.options = options
        if current in {value for _, value in options}:
            self.run_picker.value = current
        return self

    def show_report(self, run_id: str | None) -> str:
        """Render the run's archived report below the table (what picking it does); return the HTML."""
        if not run_id:
            self.report_view.value = ""
            return ""
        run = next((item for item in self.runs if item["run_id"] == run_id), None)
        if run is None or not run.get("archive_path"):
            self.report_view.value = '<div style="color:#8b1a1a">That run has no archived report.</div>'
            return self.report_view.value
        from tradepulse.jobs.render import render_report_html

        try:
            page = render_report_html(run["archive_path"])
        except TradePulseError as error:
            self.report_view.value = f'<div class="tp-reports-error" style="color:#8b1a1a">{html.escape(str(error))}</div>'
            return self.report_view.value
        # The report is a whole document with its own styles: it goes in a frame, so neither page restyles the other.
        self.report_view.value = (f'<iframe class="tp-reports-frame" data-run="{html.escape(run_id)}" '
                                  f'style="width:100%;height:900px;border:1px solid #ddd" srcdoc="{html.escape(page, quote=True)}"></iframe>')
        return page

    def _table_html(self) -> str:
        if not self.runs:
            return '<p style="color:#666">No runs recorded.</p>'
        head = "".join(f'<th style="{_CELL};text-align:left;background:#fafafa">{label}</th>' for label in
                       ("Job", "Status", "Started (UTC)", "Duration", *[key.replace("_", " ") for key in KEY_FIGURES], "Error"))
        rows = []
        for run in self.runs:
            failed = run["status"] in _FAILED
            style = "color:#8b1a1a;font-weight:700" if failed else ("color:#1d5e20" if run["status"] == "succeeded" else "color:#555")
            figures = run.get("results") or {}
            duration = run.get("duration_seconds")
            cells = [html.escape(run["job"]), f'<span data-status="{html.escape(run["status"])}" style="{style}">{html.escape(run["status"])}</span>',
                     html.escape(str(run["started_at"] or "")), "" if duration is None else f"{duration:,.1f} s",
                     *[_figure_text(key, figures.get(key)) for key in KEY_FIGURES],
                     f'<span style="color:#8b1a1a">{html.escape((run.get("error") or "")[:160])}</span>']
            background = "background:#fdecea;" if failed else ""
            rows.append(f'<tr class="tp-reports-row" data-run="{html.escape(run["run_id"])}" data-failed="{str(failed).lower()}" '
                        f'style="{background}">' + "".join(f'<td style="{_CELL}">{cell}</td>' for cell in cells) + "</tr>")
        return (f'<div style="max-height:360px;overflow:auto"><table class="tp-reports-table" style="border-collapse:collapse;width:100%">'
                f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>")
