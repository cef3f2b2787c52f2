"""`trader report JOURNAL [--out report.html]`, and what `trader paper --report` and the monitoring flags
share: the monitor of a session from the command line and the config, and the report written at its end.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from trader.monitoring.session import Monitor


def add_parser(sub: Any) -> None:
    report = sub.add_parser(
        "report", help="a session's HTML tearsheet from its journal (charts: pip install 'trader[report]')"
    )
    report.add_argument("journal", type=Path, help="the session's journal file (--journal of paper or live)")
    report.add_argument("--out", type=Path, default=None, help="the HTML file (default: JOURNAL.html)")


def add_monitoring_flags(p: argparse.ArgumentParser, *, report: bool) -> None:
    p.add_argument(
        "--metrics-port", type=int, default=None,
        help="serve Prometheus metrics on 127.0.0.1:PORT (or [monitoring] metrics_port, metrics_host)",
    )  # fmt: skip
    p.add_argument("--log-json", action="store_true", help="logs as JSON lines, one event per order change")
    if report:
        p.add_argument("--report", type=Path, default=None, help="write the session's HTML report here")


def plotly_missing() -> str | None:
    """None when the report can be drawn, else how to install what it needs."""
    from trader.monitoring.report import INSTALL_HINT

    if importlib.util.find_spec("plotly") is None:
        return f"the report needs plotly, which is not installed: {INSTALL_HINT}"
    return None


def check_flags(args: argparse.Namespace) -> None:
    """`ConfigError` for a bad --metrics-port, or --report without plotly (before anything starts)."""
    from trader.errors import ConfigError
    from trader.monitoring.settings import port

    if getattr(args, "metrics_port", None) is not None:
        port("--metrics-port", args.metrics_port)
    if getattr(args, "report", None) is not None and (why := plotly_missing()) is not None:
        raise ConfigError(why)


def monitor(args: argparse.Namespace, config_path: Path | None) -> Monitor:
    """The session's monitor: `[monitoring]`, `[alerts]`, `[logging]` of the config, the flags over them."""
    from trader.config import load_config
    from trader.monitoring.session import monitor_for

    settings = load_config(config_path).monitoring if config_path is not None else None
    return monitor_for(settings, metrics_port=args.metrics_port, log_json=args.log_json)


@contextmanager
def report_journal(args: argparse.Namespace) -> Iterator[None]:
    """With --report and no --journal, the session journals to a temporary file for the report (removed
    after the block, which writes the report)."""
    if getattr(args, "report", None) is None or args.journal is not None:
        yield
        return
    with tempfile.TemporaryDirectory(prefix="trader-report-") as tmp:
        args.journal = Path(tmp) / "journal.db"
        try:
            yield
        finally:
            args.journal = None


def write(journal: Path, out: Path) -> Path:
    from trader.monitoring.report import build_report

    path = build_report(journal, out)
    print(f"report: {path.resolve()}", file=sys.stderr)
    return path


def main(args: argparse.Namespace) -> int:
    from trader.errors import ConfigError

    if (why := plotly_missing()) is not None:
        print(f"trader report: {why}", file=sys.stderr)
        return 2
    out = args.out or args.journal.with_name(args.journal.name + ".html")
    try:
        write(args.journal, out)
    except ConfigError as e:
        print(f"trader report: {e}", file=sys.stderr)
        return 2
    return 0
