"""An archived report notebook as one self-contained HTML page (no code, figures drawn offline).

Report notebooks save their figures as plotly JSON (small, drawn by JupyterLab and Voila). For a
page that shows an archived run, each such figure gets an HTML rendering beside it, with
plotly.js inlined once, so the page draws every chart without reaching the internet; nbconvert
then writes the notebook without its code cells' inputs.
"""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path

import nbformat

from tradepulse.errors import ConfigError

__all__ = ["render_report_html"]

_PLOTLY = "application/vnd.plotly.v1+json"
_EXTERNAL_SCRIPT = re.compile(r"<script[^>]*\bsrc=\"https?://[^\"]*\"[^>]*>\s*</script>", re.IGNORECASE)


def render_report_html(path: str | Path) -> str:
    """The archived notebook at ``path`` as a standalone HTML document (raises ConfigError if unreadable)."""
    import plotly.io as pio
    from nbconvert import HTMLExporter

    location = Path(path)
    try:
        notebook = nbformat.read(location, as_version=4)
    except (OSError, ValueError) as error:
        raise ConfigError(f"cannot read the report {location}: {error}") from None
    notebook = copy.deepcopy(notebook)
    first = True
    for cell in notebook.cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            if _PLOTLY in data and "text/html" not in data:
                spec = data[_PLOTLY]
                figure = pio.from_json(spec if isinstance(spec, str) else json.dumps(spec))
                data["text/html"] = pio.to_html(figure, full_html=False, include_plotlyjs="inline" if first else False)
                del data[_PLOTLY]
                first = False
    exporter = HTMLExporter(template_name="lab")
    exporter.exclude_input = True
    exporter.exclude_input_prompt = True
    exporter.exclude_output_prompt = True
    body, _ = exporter.from_notebook_node(notebook)
    # The template links require.js and MathJax from a CDN; a report page needs neither, and an
    # offline machine (or a firewalled dashboard) must not wait on them.
    return _EXTERNAL_SCRIPT.sub("", body)
