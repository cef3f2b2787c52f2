"""Every host comes from its venue's endpoints table, and each row of the tables cites its source.

The tables: `trader/venues/<venue>/endpoints.py` of every venue but Polymarket (whose table and its test
belong to the Polymarket work; its hosts are read here only so that other code may quote them). The check:
every host quoted in the code (the string literals and comments of `python/trader`, outside the endpoints
modules and Polymarket's own packages) and in the guide (`deployment-5.md`) is a host of a table, the
loopback, or a documentation site cited as a source (`CITED`, each with its reason).
"""

from __future__ import annotations

import dataclasses
import importlib
import io
import re
import tokenize
from pathlib import Path
from urllib.parse import urlsplit

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "python" / "trader"
GUIDE = ROOT / "deployment-5.md"
VENUES = ("binance", "alpaca", "ibkr", "kraken", "bybit", "okx", "coinbase")
READ_ONLY = ("polymarket",)  # its table belongs to the Polymarket work; its hosts may be quoted elsewhere
SKIP = ("venues/polymarket/", "sim/polymarket/")  # Polymarket's own packages: checked by its own test
LOOPBACK = frozenset({"127.0.0.1", "localhost", "0.0.0.0", "::1"})  # noqa: S104 - names, not binds
# Documentation sites quoted as sources (never connected to): host -> why it is quoted.
CITED = {
    "docs.alpaca.markets": "engine/equity.py cites Alpaca's changelog for the PDT deprecation",
    "govinfo.gov": "engine/equity.py cites the Federal Register copy of the SEC approval",
    "assetmarketnews.com": "engine/equity.py cites a report of FINRA's notice",
    "www.nyse.com": "engine/equity.py cites NYSE's holiday calendar",
    "docs.polymarket.com": "strategies/rewards.py cites Polymarket's rewards documentation",
    # deployment-5.md links each fact a reader may check to the venue's or regulator's own page (issue 21)
    **dict.fromkeys(
        (
            "developers.binance.com",  # Binance's API documentation
            "www.binance.com",  # Binance's terms of use
            "docs.cdp.coinbase.com",  # Coinbase Advanced Trade documentation
            "docs.kraken.com",  # Kraken's API documentation
            "bybit-exchange.github.io",  # Bybit's API documentation
            "interactivebrokers.github.io",  # the TWS API documentation
            "www.interactivebrokers.com",  # IBKR Campus
            "ibkrguides.com",  # IBKR's guide to the daily auto restart
            "www.govinfo.gov",  # the Federal Register notice of the Rule 4210 amendment
            "www.assetmarketnews.com",  # a report of FINRA's notice
            "finra.org",  # FINRA: membership application
            "www.finra.org",  # FINRA: time frames, Notice to Members 92-72
            "sec.gov",  # the SEC's 15c3-5 FAQ
            "www.corporatefinancialweeklydigest.com",  # a summary of Rule 15c3-5
            "www.chicagobusiness.com",  # Nasdaq's data centre in Carteret
            "datacenterknowledge.com",  # Equinix NY5, NYSE Mahwah
            "www.datacenterknowledge.com",  # Equinix NY4
            "chainbulletin.com",  # a report of Binance's US restriction
        ),
        "deployment-5.md links it as the source of a fact",
    ),
}
TLDS = "com|markets|vision|gov|org|io|net|us|dev|app|cloud|co"
HOST = re.compile(rf"(?<![\w.@-])((?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+(?:{TLDS}))(?![\w-])", re.I)
URL = re.compile(r"\b(?:https?|wss?)://([^/\s\"'`<>)]+)")
IPV4 = re.compile(r"\d{1,3}(?:\.\d{1,3}){3}")
NAME = re.compile(r"[a-z0-9](?:[a-z0-9.-]*[a-z0-9])?")  # a host name or address (not `%s`, not `{host}`)
SOURCE = "source:"


def _strings(value: object) -> list[str]:
    """Every string inside a table value (dataclass rows, dicts, tuples)."""
    if isinstance(value, str):
        return [value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return [s for f in dataclasses.fields(value) for s in _strings(getattr(value, f.name))]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def _host(text: str) -> str | None:
    if "://" in text:
        return (urlsplit(text).hostname or "").lower() or None
    if IPV4.fullmatch(text.strip()):
        return text.strip()
    found = HOST.fullmatch(text.strip())
    return found.group(1).lower() if found else None


def table_hosts(venue: str) -> set[str]:
    module = importlib.import_module(f"trader.venues.{venue}.endpoints")
    out: set[str] = set()
    for name, value in vars(module).items():
        if name.startswith("_") or (callable(value) and not isinstance(value, dict)):
            continue
        out |= {h for s in _strings(value) if (h := _host(s)) is not None}
    return out


def allowed_hosts() -> set[str]:
    return {h for v in (*VENUES, *READ_ONLY) for h in table_hosts(v)} | LOOPBACK | set(CITED)


def quoted_hosts(text: str) -> set[str]:
    """The hosts a text quotes: those of URLs and bare host names."""
    hosts = {(urlsplit("//" + m.group(1)).hostname or "").lower() for m in URL.finditer(text)}
    hosts |= {m.group(1).lower() for m in HOST.finditer(text)}
    return {h for h in hosts if NAME.fullmatch(h)}


def _literals_and_comments(path: Path) -> str:
    """The string literals and comments of a Python file (code is left out: `self.markets` is no host)."""
    tokens = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    kinds = (tokenize.STRING, tokenize.COMMENT, getattr(tokenize, "FSTRING_MIDDLE", tokenize.STRING))
    return "\n".join(t.string for t in tokens if t.type in kinds)


def code_files() -> list[Path]:
    return [
        p
        for p in sorted(PACKAGE.rglob("*.py"))
        if p.name != "endpoints.py" and not any(part in p.as_posix() for part in SKIP)
    ]


def _cited(lines: list[str], i: int) -> bool:
    """Line `i` cites its source, or the line above it is a comment citing one, or opens the row
    (`"live": Endpoints(  # source: ...`) that line `i` continues."""
    if SOURCE in lines[i]:
        return True
    above = next((lines[j] for j in range(i - 1, -1, -1) if lines[j].strip()), "")
    code = above.split("#", 1)[0].rstrip()
    return SOURCE in above and (not code or code.endswith("("))


@pytest.mark.parametrize("venue", VENUES)
def test_each_table_row_cites_its_source(venue: str) -> None:
    """Every line of the table that quotes a host cites its source (see `_cited`)."""
    path = PACKAGE / "venues" / venue / "endpoints.py"
    lines = path.read_text().splitlines()
    hosts = table_hosts(venue)
    assert hosts, f"{venue}: no host in its table"
    uncited = [
        f"{path.relative_to(ROOT)}:{i + 1}: {line.strip()}"
        for i, line in enumerate(lines)
        if any(re.search(rf"[\"'/]{re.escape(h)}[:/\"']", line.split("#", 1)[0]) for h in hosts)
        and not _cited(lines, i)
    ]
    assert not uncited, "rows without a source:\n" + "\n".join(uncited)


def test_the_citation_rule_is_strict() -> None:
    rows = [
        '    "live": Endpoints(  # source: [C]',
        '        "https://a.example.com",',
        '        "https://b.example.com",',
        "    # source: a doc page",
        '    STREAM = "wss://c.example.com"',
        '    REST = "https://d.example.com"  # source: [P]',
    ]
    assert [_cited(rows, i) for i in range(1, 6) if i != 3] == [True, False, True, True]


def test_code_quotes_only_hosts_of_the_tables() -> None:
    allowed = allowed_hosts()
    stray = {
        f"{p.relative_to(ROOT)}: {h}"
        for p in code_files()
        for h in quoted_hosts(_literals_and_comments(p))
        if h not in allowed
    }
    assert not stray, "hosts outside the endpoints tables:\n" + "\n".join(sorted(stray))


def test_the_guide_quotes_only_hosts_of_the_tables() -> None:
    stray = quoted_hosts(GUIDE.read_text()) - allowed_hosts()
    assert not stray, f"{GUIDE.name} quotes hosts outside the endpoints tables: {sorted(stray)}"


def test_the_check_finds_a_stray_host(tmp_path: Path) -> None:
    """The scan is not blind: an unknown host in a literal or comment is found, code is not read."""
    sample = tmp_path / "sample.py"
    sample.write_text(
        'URL = "wss://stream.example-exchange.com:9443/ws"  # see api.binance.com\n'
        "x = self.markets  # plain code\n"
        'HOST = "demo-fapi.binance.com"\n'
    )
    found = quoted_hosts(_literals_and_comments(sample))
    assert found == {"stream.example-exchange.com", "api.binance.com", "demo-fapi.binance.com"}
    assert found - allowed_hosts() == {"stream.example-exchange.com"}
    assert {"demo-api.binance.com", "demo-fapi.binance.com", "testnet.binancefuture.com"} <= allowed_hosts()
