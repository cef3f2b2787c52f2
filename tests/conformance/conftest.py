"""The conformance suite reports, per venue, how many cases ran for real and how many were not
applicable (a venue without the capability a case needs: see `harness.venues`)."""

from __future__ import annotations

import collections
from typing import Any

import pytest

_COUNTS: collections.Counter[tuple[str, str]] = collections.Counter()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "not_applicable(reason): the venue lacks a capability the case needs (asserted)"
    )


def pytest_collection_finish(session: pytest.Session) -> None:
    for item in session.items:
        if "conformance" not in item.path.parts:
            continue
        callspec = getattr(item, "callspec", None)
        if item.path.name == "test_binance.py":
            _COUNTS[("binance (own)", "real")] += 1
        if callspec is None or "case" not in callspec.params:
            continue
        venue = callspec.params["case"].harness.id
        kind = "n/a" if item.get_closest_marker("not_applicable") else "real"
        _COUNTS[(venue, kind)] += 1


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not _COUNTS:
        return
    terminalreporter.section("conformance: cases per venue")
    for venue in sorted({v for v, _ in _COUNTS}):
        real, na = _COUNTS[(venue, "real")], _COUNTS[(venue, "n/a")]
        terminalreporter.write_line(f"{venue:16} real {real:3}   n/a {na:3}")
