"""`trader report JOURNAL`: a self-contained HTML tearsheet of a session, from its journal file.

plotly draws the charts (an optional dependency: `pip install 'trader[report]'`); the page inlines
plotly.js once, so it opens anywhere without a network. `build_report` needs plotly; `MissingPlotly`
says how to install it."""

from __future__ import annotations

from pathlib import Path

from trader.errors import ConfigError

INSTALL_HINT = "pip install 'trader[report]' (or: pip install plotly)"


class MissingPlotlyError(ConfigError):
    """The report needs plotly, which is an optional dependency."""


def build_report(journal: str | Path, out: str | Path) -> Path:
    """Write the report of `journal` to `out` (HTML); returns its path."""
    try:
        import plotly  # noqa: F401
    except ImportError:
        raise MissingPlotlyError(
            f"the report draws its charts with plotly, not installed: {INSTALL_HINT}"
        ) from None
    from trader.monitoring.report.data import load
    from trader.monitoring.report.page import render

    data = load(journal)
    path = Path(out)
    path.write_text(render(data), encoding="utf-8")
    return path


__all__ = ["INSTALL_HINT", "MissingPlotlyError", "build_report"]
