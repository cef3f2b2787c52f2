"""deployment-5.md quotes the venues' endpoints, contract addresses and rate limits as the code has them
(issue 21: "every endpoint, address and limit quoted comes from one table in the code, and a test checks
that the guide quotes the same values").

- Every URL the guide gives on a venue's domain is a URL of that venue's endpoints module, or a link to the
  venue's documentation; and every URL of every endpoints table is in the guide (a host changed in the code
  and not in the guide, or the other way round, fails).
- Every contract address in the guide is one of Polymarket's endpoints constants, and every one is quoted.
- Every row of the guide's rate-limit table names the constant that holds its value, and the value is the
  constant's; IBKR's ports and the simulator's demo account likewise.
- Every venue's section links to the venue's own documentation.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[1]
GUIDE = (ROOT / "deployment-5.md").read_text(encoding="utf-8")
VENUES = ("alpaca", "binance", "bybit", "coinbase", "ibkr", "kraken", "okx", "polymarket")
# the registrable domains of each venue: a URL there is an endpoint unless it is documentation
DOMAINS = {
    "alpaca": ("alpaca.markets",),
    "binance": ("binance.com", "binance.vision", "binancefuture.com"),
    "bybit": ("bybit.com",),
    "coinbase": ("coinbase.com",),
    "kraken": ("kraken.com",),
    "okx": ("okx.com",),
    "polymarket": ("polymarket.com", "drpc.org"),
}
# the venues' documentation (host, path prefix): links, not endpoints
DOCS: dict[str, tuple[tuple[str, str], ...]] = {
    "alpaca": (("docs.alpaca.markets", "/docs"),),
    "binance": (("developers.binance.com", "/docs"), ("www.binance.com", "/en/terms")),
    "bybit": (("bybit-exchange.github.io", "/docs"),),
    "coinbase": (("docs.cdp.coinbase.com", "/"),),
    "ibkr": (("interactivebrokers.github.io", "/tws-api"), ("www.interactivebrokers.com", "/campus")),
    "kraken": (("docs.kraken.com", "/api"),),
    "okx": (("www.okx.com", "/docs-v5"),),
    "polymarket": (("docs.polymarket.com", "/"),),
}
URL = re.compile(r"(?:https?|wss?)://[^\s`)|>\]\"']+")
ADDRESS = re.compile(r"\b0x[0-9a-fA-F]{40}\b")


def _endpoints(venue: str) -> ModuleType:
    return importlib.import_module(f"trader.venues.{venue}.endpoints")


def _norm(url: str) -> str:
    return url.rstrip("/.,;:")


def _code_urls(venue: str) -> set[str]:
    """Every URL of the venue's endpoints module: its ENDPOINTS tables' fields and its URL constants."""
    mod = _endpoints(venue)
    urls: set[str] = set()
    for env in getattr(mod, "ENDPOINTS", {}).values():
        urls |= {v for v in vars(env).values() if isinstance(v, str) and URL.fullmatch(v)}
    urls |= {v for k, v in vars(mod).items() if k.isupper() and isinstance(v, str) and URL.fullmatch(v)}
    return {_norm(u) for u in urls}


def _venue_of(host: str) -> str | None:
    for venue, domains in DOMAINS.items():
        if any(host == d or host.endswith("." + d) for d in domains):
            return venue
    return None


def _is_doc(venue: str, url: str) -> bool:
    parts = urlsplit(url)
    return any(parts.hostname == h and parts.path.startswith(p) for h, p in DOCS.get(venue, ()))


def test_every_venue_url_in_the_guide_is_in_the_endpoints_table_or_documentation() -> None:
    seen = 0
    for url in map(_norm, URL.findall(GUIDE)):
        venue = _venue_of(urlsplit(url).hostname or "")
        if venue is None:
            continue
        seen += 1
        assert url in _code_urls(venue) or _is_doc(venue, url), (
            f"the guide quotes {url}: not in trader/venues/{venue}/endpoints.py, not a documentation link"
        )
    assert seen > 20  # the scan reads the guide's tables (it is not vacuous)


@pytest.mark.parametrize("venue", [v for v in VENUES if v != "ibkr"])
def test_the_guide_quotes_every_url_of_the_endpoints_table(venue: str) -> None:
    quoted = {_norm(u) for u in URL.findall(GUIDE)}
    urls = _code_urls(venue)
    assert urls
    missing = sorted(u for u in urls if u not in quoted)
    assert not missing, f"trader/venues/{venue}/endpoints.py has URLs the guide does not quote: {missing}"


def test_contract_addresses_are_the_endpoints_constants() -> None:
    mod = _endpoints("polymarket")
    code = {v for k, v in vars(mod).items() if k.isupper() and isinstance(v, str) and ADDRESS.fullmatch(v)}
    quoted = set(ADDRESS.findall(GUIDE))
    assert len(code) >= 10
    assert quoted - code == set(), f"addresses not in polymarket/endpoints.py: {sorted(quoted - code)}"
    assert code - quoted == set(), f"addresses the guide does not quote: {sorted(code - quoted)}"


def _limit_rows() -> list[tuple[str, str, str, str]]:
    """(venue, value, module, expression) of each row of the guide's rate-limit table."""
    row = re.compile(r"^\| (\w+) \| [^|]+ \| ([^|]+) \| `(\w+)/endpoints\.py` `([^`]+)` \|$", re.M)
    return [(m[1], m[2].strip(), m[3], m[4]) for m in row.finditer(GUIDE)]


def _evaluate(mod: ModuleType, expression: str) -> Any:
    m = re.fullmatch(r"([A-Z_]+)(?:\[\"([^\"]+)\"\])?", expression)
    assert m, f'not NAME or NAME["key"]: {expression}'
    value = getattr(mod, m[1])
    if m[2] is not None:
        value = {str(k): v for k, v in value.items()}[m[2]]
    return value


def _render(value: Any) -> str:
    """A limit as the guide writes it: a number, or the numbers of a tuple or of a list of windows."""
    if isinstance(value, tuple):
        return ", ".join(_render(v) for v in value)
    if isinstance(value, list):  # [(count, window_s), ...]
        return ", ".join(str(n) for n, _ in value)
    return str(value)


def test_every_rate_limit_row_is_the_constant_it_names() -> None:
    rows = _limit_rows()
    assert {venue for venue, *_ in rows} >= set(VENUES)  # each venue has its limits in the table
    for venue, value, module, expression in rows:
        assert module == venue
        code = _render(_evaluate(_endpoints(venue), expression))
        assert value.replace(" ", "") == code.replace(" ", ""), (
            f"{venue} {expression}: guide {value}, code {code}"
        )


def test_ibkr_ports_and_the_simulator_demo_account() -> None:
    ib = _endpoints("ibkr")
    assert f"| paper | `{ib.PAPER_GATEWAY_PORT}` | `{ib.PAPER_TWS_PORT}` |" in GUIDE
    assert f"| live | `{ib.LIVE_GATEWAY_PORT}` | `{ib.LIVE_TWS_PORT}` |" in GUIDE
    assert f"Host `{ib.DEFAULT_HOST}`" in GUIDE
    assert f"{ib.DEFAULT_HOST}:{ib.PAPER_GATEWAY_PORT}" in GUIDE
    bn = _endpoints("binance")
    assert f"`{bn.SIM_API_KEY}` / `{bn.SIM_SECRET}`" in GUIDE


def test_no_unmeasured_profit_figure() -> None:
    """Section 7 quotes what the paper runs measured; a profit rate per day is nothing they measured."""
    per_day = re.compile(r"\$[\d,.]+\s*(?:[-\u2013]|to)\s*\$?[\d,.]+\s*(?:/|per)\s*day", re.I)
    assert not per_day.search(GUIDE), per_day.search(GUIDE)
    assert "Simulated results are not a forecast" in GUIDE


@pytest.mark.parametrize("venue", VENUES)
def test_each_venue_links_its_own_documentation(venue: str) -> None:
    links = [u for u in URL.findall(GUIDE) if _is_doc(venue, u)]
    assert links, f"no link to {venue}'s documentation"
