"""Every Polymarket host the code and the guide quote is in the endpoints table, and every row of the table
cites its source (issue 20: "every host comes from the venue's endpoints table")."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

from trader.venues.polymarket import endpoints

ROOT = Path(__file__).resolve().parents[3]
TABLE = ("CLOB", "CLOB_WS", "GAMMA", "DATA_API", "POLYGON_RPC")
URL = re.compile(r"\b(?:https?|wss?)://[A-Za-z0-9.-]+")
# where hosts are cited as sources, not called
SOURCES = {"docs.polymarket.com", "github.com", "raw.githubusercontent.com"}


def _hosts() -> set[str]:
    return {urlsplit(getattr(endpoints, name)).hostname or "" for name in TABLE}


def test_every_row_cites_its_source() -> None:
    text = (ROOT / "python/trader/venues/polymarket/endpoints.py").read_text(encoding="utf-8")
    for name in TABLE:
        [line] = [ln for ln in text.splitlines() if ln.startswith(f"{name} = ")]
        assert "#" in line, f"{name} has no source comment"
    assert {
        urlsplit(u).hostname for u in (endpoints.ENDPOINTS["live"].rest, endpoints.ENDPOINTS["live"].ws)
    } <= _hosts()
    assert urlsplit(endpoints.ENDPOINTS["live"].gamma or "").hostname in _hosts()
    assert urlsplit(endpoints.ENDPOINTS["live"].rpc or "").hostname in _hosts()


def test_code_and_guide_quote_only_hosts_from_the_table() -> None:
    files = [
        *(ROOT / "python/trader/venues/polymarket").glob("*.py"),
        *(ROOT / "python/trader/sim/polymarket").glob("*.py"),
        ROOT / "python/trader/cli/approve.py",
        ROOT / "README.md",
        ROOT / "deployment-5.md",
    ]
    allowed = _hosts() | SOURCES | {"127.0.0.1", "localhost"}
    seen = set()
    for path in files:
        if not path.exists():
            continue
        for url in URL.findall(path.read_text(encoding="utf-8")):
            host = urlsplit(url).hostname or ""
            if (
                "polymarket" in host
                or "polygon" in host
                or "drpc" in host
                or path.parent.name == "polymarket"
            ):
                seen.add(host)
                assert host in allowed, f"{path.relative_to(ROOT)} quotes {host}, not in the endpoints table"
    assert _hosts() <= seen  # the scan reads the table itself (it is not vacuous)
    assert "polygon-rpc.com" not in seen
