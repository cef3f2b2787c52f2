"""`trader config init|check`, `trader testnet` without a config or with a list of venues, and the alias
venues (`binance-futures`, `binance-margin`) through the registry."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers import plan_a_venue
from trader.cli import EXIT_OK, EXIT_USAGE, main
from trader.cli.config import template
from trader.clock import LiveClock
from trader.config import VenueConfig, parse_config
from trader.errors import ConfigError
from trader.sim.binance import BinanceSimServer
from trader.sim.server import SimThread
from trader.venues import registry
from trader.venues.binance import BinanceConnector
from trader.venues.registry import SIM_API_KEY, SIM_SECRET


@pytest.fixture(autouse=True)
def a_planned_venue(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every venue the mission names is built; a made-up planned one stands for "not built yet"."""
    plan_a_venue(monkeypatch)


CANARY = "CANARYs3cr3t-9f1e"


def _init(path: Path, *extra: str) -> int:
    return main(["config", "init", f"--path={path}", *extra])


def _one_line(err: str, prefix: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(prefix), lines[0]
    return lines[0]


# ---- config init ----


def test_init_writes_a_template_that_check_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    assert _init(path) == EXIT_OK
    assert str(path) in capsys.readouterr().out
    assert path.stat().st_mode & 0o777 == 0o600
    assert main(["config", "check", f"--config={path}"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "valid" in out
    assert main(["config", "check", f"--config={path}", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["strategies"]["mm-btc"]["legs"] == [
        {"venue": "binance", "symbol": "BTC-USDT", "venue_symbol": "BTCUSDT"}
    ]


def test_the_template_covers_every_venue_the_registry_knows(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    assert _init(path) == EXIT_OK
    text = path.read_text()
    config = parse_config(text)
    for name in registry.names():
        prof = registry.profile(name)
        if prof.built:
            assert name in config.venues, name
            v = config.venues[name]
            assert v.risk is not None, name  # per-venue limits and kill thresholds for each
            assert v.kill.max_loss is not None, name
            assert v.orders_per_second is not None, name
            assert all(ref.kind == "env" for ref in v.secrets.values()), name
        else:  # planned: there, commented out, saying so
            assert name not in config.venues
            header = next(line for line in text.splitlines() if line.startswith(f"# [venues.{name}]"))
            assert "not built yet" in header
            assert f"# [venues.{name}.risk]" in text
    assert config.venues["binance-futures"].options["market"] == "futures"
    assert config.venues["binance-margin"].options["market"] == "margin"
    assert config.risk is not None
    assert {"BTC", "ETH"} <= set(config.risk.assets)
    assert "USDT" in config.risk.currencies
    assert {"BTC-USDT", "ETH-USDT"} <= set(config.symbols)
    assert len(config.strategies) == 1
    # every secret is a reference: no key = "value" that is not env:/keystore:
    for v in config.venues.values():
        assert all(f"{r.kind}:{r.where}".startswith(("env:", "keystore:")) for r in v.secrets.values())


def test_init_refuses_to_overwrite_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "config.toml"
    path.write_text("# mine\n")
    assert _init(path) == EXIT_USAGE
    _one_line(capsys.readouterr().err, "trader config init: ")
    assert path.read_text() == "# mine\n"
    assert _init(path, "--force") == EXIT_OK
    assert "[risk]" in path.read_text()


def test_init_default_path_is_under_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert main(["config", "init"]) == EXIT_OK
    assert (tmp_path / ".trader" / "config.toml").is_file()
    assert main(["config", "check"]) == EXIT_OK  # the same default
    assert main(["config"]) == EXIT_USAGE
    _one_line(capsys.readouterr().err, "trader config: ")


# ---- config check ----

RISK = """[risk]
max_gross_notional = "100000"
max_net_notional = "50000"
max_open_orders = 50
orders_per_second = 20
daily_loss_limit = "500"
daily_loss_halt = "1000"
"""


CONFIG = (
    "\n"
    + RISK
    + """
[risk.assets.BTC]
max_net_notional = "20000"

[venues.binance]
api_key = "env:CANARY_KEY"
secret = "env:CANARY_SECRET"
orders_per_second = 10

[venues.binance.risk]
max_gross_notional = "50000"
max_open_orders = 20
daily_loss_limit = "200"
max_order_notional = "5000"

[venues.binance.kill]
max_reject_rate = "0.25"

[venues.binance-futures]
api_key = "env:CANARY_KEY"
secret = "keystore:/tmp/nowhere/futures.json"
environment = "live"

[venues.future]
api_key = "env:CANARY_KEY"
secret = "env:CANARY_SECRET"

[symbols.BTC-USDT]
binance = "BTCUSDT"
binance-futures = "BTCUSDT"

[strategies.basis]
kind = "basis"
legs = ["binance:BTC-USDT", "binance-futures:BTC-USDT"]
"""
)


@pytest.fixture
def canary(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANARY_KEY", CANARY + "-key")
    monkeypatch.setenv("CANARY_SECRET", CANARY)
    monkeypatch.setenv("TRADER_KEYSTORE_PASSWORD", CANARY + "-password")


def test_check_json_resolves_limits_per_venue_and_in_aggregate(
    canary: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    assert main(["config", "check", f"--config={path}", "--json"]) == EXIT_OK
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err
    data = json.loads(captured.out)
    agg = data["aggregate"]
    assert (agg["max_gross_notional"], agg["max_open_orders"], agg["orders_per_second"]) == ("100000", 50, 20)
    assert (agg["daily_loss_limit"], agg["daily_loss_halt"], agg["reporting_currency"]) == (
        "500",
        "1000",
        "USD",
    )
    assert agg["assets"] == {"BTC": {"max_net_notional": "20000", "max_gross_notional": None}}
    b = data["venues"]["binance"]
    assert (b["environment"], b["built"], b["alias_of"]) == ("testnet", True, None)
    limits = b["limits"]
    assert limits["max_gross_notional"] == {"value": "50000", "from": "venues.binance.risk"}
    assert limits["max_open_orders"] == {"value": 20, "from": "venues.binance.risk"}
    assert limits["daily_loss_halt"] == {"value": "200", "from": "venues.binance.risk"}  # the limit's default
    assert limits["max_net_notional"] == {"value": "50000", "from": "risk"}  # not set: the aggregate's
    assert limits["orders_per_second"] == {"value": 10, "from": "venues.binance"}
    assert limits["max_order_notional"] == {"value": "5000", "from": "venues.binance.risk"}
    assert b["kill"] == {"max_reject_rate": "0.25", "reject_window": 20}
    assert b["secrets"] == {"api_key": "env:CANARY_KEY", "secret": "env:CANARY_SECRET"}  # named, not resolved
    f = data["venues"]["binance-futures"]
    assert (f["environment"], f["alias_of"], f["options"]) == ("live", "binance", {"market": "futures"})
    assert f["limits"]["max_gross_notional"] == {"value": "100000", "from": "risk"}
    assert f["limits"]["orders_per_second"] == {"value": 20, "from": "risk"}
    assert data["venues"]["future"]["built"] is False
    assert data["symbols"]["BTC-USDT"] == {
        "asset": "BTC",
        "quote": "USDT",
        "venues": {"binance": "BTCUSDT", "binance-futures": "BTCUSDT"},
    }
    legs = data["strategies"]["basis"]["legs"]
    assert [(leg["venue"], leg["venue_symbol"]) for leg in legs] == [
        ("binance", "BTCUSDT"),
        ("binance-futures", "BTCUSDT"),
    ]


def test_check_text_names_everything_and_no_secret(
    canary: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(CONFIG)
    assert main(["config", "check", f"--config={path}"]) == EXIT_OK
    captured = capsys.readouterr()
    assert CANARY not in captured.out + captured.err
    out = captured.out
    assert re.search(r"max_gross_notional\s+50000\s+\(\[venues.binance.risk\]\)", out)
    assert re.search(r"max_net_notional\s+50000\s+\(\[risk\]\)", out)
    assert "binance-futures: environment live, built, binance futures" in out
    assert "future: environment testnet, NOT BUILT" in out
    assert "secret = env:CANARY_SECRET" in out
    assert "secret = keystore:/tmp/nowhere/futures.json" in out
    assert "basis (basis): binance:BTC-USDT (BTCUSDT), binance-futures:BTC-USDT (BTCUSDT)" in out


@pytest.mark.parametrize(
    ("text", "names"),
    [
        (
            CONFIG.replace('max_gross_notional = "50000"', 'max_gross_notional = "900000"'),
            "max_gross_notional",
        ),
        (CONFIG.replace("[venues.future]", "[venues.okkx]"), "unknown venue 'okkx'"),
        (CONFIG.replace('binance-futures = "BTCUSDT"\n', ""), "unmapped symbol"),
        (CONFIG.replace("max_open_orders = 20\n", ""), "[venues.binance.risk] is missing max_open_orders"),
        (CONFIG.split("[venues.binance]", 1)[1].join(["[venues.binance]", ""]), "[risk] is missing"),
        ("[risk\n", "not valid TOML"),
    ],
)
def test_check_a_bad_config_is_one_line_exit_2(
    text: str, names: str, canary: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    assert main(["config", "check", f"--config={path}"]) == EXIT_USAGE
    captured = capsys.readouterr()
    assert captured.out == ""
    line = _one_line(captured.err, "trader config check: ")
    assert names in line
    assert CANARY not in line


def test_check_without_a_file_says_how_to_get_one(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", f"--config={tmp_path / 'none.toml'}"]) == EXIT_USAGE
    assert "trader config init" in _one_line(capsys.readouterr().err, "trader config check: no config at ")


# ---- trader testnet ----


def test_testnet_without_a_config_says_how_to_get_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for argv in (["testnet"], ["testnet", "--exchange=binance,alpaca"]):
        assert main([*argv, f"--config={tmp_path / 'none.toml'}"]) == EXIT_USAGE
        captured = capsys.readouterr()
        line = _one_line(captured.err, "trader testnet: no config at ")
        assert "trader config init" in line
        assert "--sim" in line
        assert "PASS" not in captured.out


def test_testnet_refuses_venues_the_config_lacks(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[venues.kraken]\napi_key = "env:K"\nsecret = "env:S"\n')
    assert main(["testnet", f"--config={path}", "--exchange=kraken,alpaca"]) == EXIT_USAGE
    assert "has no [venues.alpaca] table" in _one_line(capsys.readouterr().err, "trader testnet: ")
    assert main(["testnet", f"--config={path}", "--exchange=kraken,,alpaca"]) == EXIT_USAGE
    assert "empty venue" in _one_line(capsys.readouterr().err, "trader testnet: ")
    assert main(["testnet", f"--config={path}", "--exchange=kraken,nope"]) == EXIT_USAGE
    assert "unknown venue 'nope'" in _one_line(capsys.readouterr().err, "trader testnet: ")
    path.write_text("")
    assert main(["testnet", f"--config={path}"]) == EXIT_USAGE
    assert "configures no venue" in _one_line(capsys.readouterr().err, "trader testnet: ")


def test_testnet_sim_runs_every_venue_of_the_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testnet", "--sim", "--exchange=sim,binance", "--market=spot"]) == EXIT_OK
    out = capsys.readouterr().out
    venues = {line.split()[0] for line in out.splitlines()[1:-1]}
    assert venues == {"sim", "binance"}
    assert "0 failed, 8 passed, 2 skipped" in out  # the order round trips: not requested


@pytest.fixture
def sim() -> Iterator[SimThread]:
    s = SimThread(BinanceSimServer(seed=3))
    yield s
    s.close()


def test_testnet_checks_every_configured_venue_aliases_included(
    sim: SimThread, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """No --exchange: every configured venue; `binance-futures` is Binance's futures market, checked and
    reported under its own name."""
    monkeypatch.setenv("SIM_BINANCE_KEY", SIM_API_KEY)
    monkeypatch.setenv("SIM_BINANCE_SECRET", SIM_SECRET)
    body = (
        'api_key = "env:SIM_BINANCE_KEY"\nsecret = "env:SIM_BINANCE_SECRET"\n'
        f'environment = "sim"\nurl = "{sim.server.url}"\n'
    )
    path = tmp_path / "c.toml"
    path.write_text(f"[venues.binance]\n{body}\n[venues.binance-futures]\n{body}")
    assert main(["testnet", f"--config={path}"]) == EXIT_OK
    out = capsys.readouterr().out
    rows = [line.split()[0] for line in out.splitlines()[1:-1]]
    assert rows.count("binance") == 5
    assert rows.count("binance-futures") == 5
    assert "0 failed, 8 passed, 2 skipped" in out  # the order round trips: not requested


# ---- alias venues in the registry ----


def test_alias_venues_are_venues_of_their_own(capsys: pytest.CaptureFixture[str]) -> None:
    names = registry.names()
    assert names.index("binance") < names.index("binance-futures") < names.index("binance-margin")
    futures = registry.profile("binance-futures")
    assert (futures.name, futures.markets, futures.built) == ("binance-futures", ("futures",), True)
    assert futures.client_id == registry.profile("binance").client_id
    assert registry.profile("binance-margin").markets == ("margin",)
    assert registry.alias_options("binance-margin") == {"market": "margin"}
    assert registry.alias_options("binance") == {}
    assert main(["venues"]) == EXIT_OK
    out = capsys.readouterr().out.splitlines()
    header = out[0]
    for name in ("binance-futures", "binance-margin"):
        row = next(line for line in out if line.startswith(name + " "))
        assert row.index("crypto") == header.index("tier")  # the columns line up
        assert "futures" in row or "margin" in row


def test_an_alias_builds_its_market_under_its_own_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIM_BINANCE_KEY", SIM_API_KEY)
    monkeypatch.setenv("SIM_BINANCE_SECRET", SIM_SECRET)
    secrets = (
        parse_config(
            '[venues.binance-margin]\napi_key = "env:SIM_BINANCE_KEY"\nsecret = "env:SIM_BINANCE_SECRET"\n'
            'environment = "live"\n'
        )
        .venues["binance-margin"]
        .secrets
    )
    cfg = VenueConfig(
        "binance-margin", "sim", secrets, {"url": "http://127.0.0.1:9"}
    )  # built by hand: no market
    clock = LiveClock()
    conn = registry.build_connector(cfg, symbol="BTCUSDT", clock=clock)
    assert isinstance(conn, BinanceConnector)
    assert (conn.venue, conn.market.value) == ("binance-margin", "margin")
    plain = registry.build_connector(
        VenueConfig("binance", "sim", secrets, {"url": "http://127.0.0.1:9"}), symbol="BTCUSDT", clock=clock
    )
    assert isinstance(plain, BinanceConnector)
    assert (plain.venue, plain.market.value) == ("binance", "spot")
    loop = registry.loopback_connector(
        "http://127.0.0.1:9", symbol="BTCUSDT", clock=clock, venue="binance-futures"
    )
    assert (loop.venue, loop.market.value) == ("binance-futures", "futures")
    for c in (conn, plain, loop):
        asyncio.run(c.close())
    with pytest.raises(ConfigError, match="unknown venue 'binance-spot'"):
        registry.package("binance-spot")


def test_the_polymarket_simulator_says_which_market_a_config_can_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`config init` writes a placeholder condition id; `trader sim polymarket` prints the one it serves,
    and a config naming it trades against the running simulator (the placeholder is "market not found")."""
    assert "`trader sim polymarket` prints its own" in template()
    cmd = [sys.executable, "-m", "trader", "sim", "polymarket", "--port", "0"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().split("listening on ")[1].strip()
        said = re.fullmatch(
            r"sim venue polymarket trades (0x[0-9a-f]{64}):YES by default\n", proc.stdout.readline()
        )
        assert said is not None
        monkeypatch.setenv("PM_TEST_KEY", "0x" + "ab" * 32)
        cfg = tmp_path / "pm.toml"
        venue = f'[venues.polymarket]\nprivate_key = "env:PM_TEST_KEY"\nenvironment = "sim"\nurl = "{url}"\n'
        paper = ["paper", "--config", str(cfg), "--exchange", "polymarket", "--duration", "1", "--no-view"]
        cfg.write_text(RISK + venue + 'condition_id = "0x' + "0" * 64 + '"\n')
        assert main(paper) != EXIT_OK
        assert "market not found" in capsys.readouterr().err
        cfg.write_text(RISK + venue + f'condition_id = "{said.group(1)}"\n')
        assert main(paper) == EXIT_OK
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()


def test_the_perpetual_aliases_trade_their_market_on_the_simulators(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """`okx-swap` and `bybit-linear`: OKX's swap and Bybit's linear market as venues of their own, each
    with its market's default instrument; their testnet checks pass an order round trip on the
    simulators."""
    assert registry.profile("okx-swap").default_symbol == "BTC-USDT-SWAP"
    assert list(registry.profile("bybit-linear").capabilities) == ["linear"]
    for alias in ("okx-swap", "bybit-linear"):  # a connector to its simulator is named after the alias
        conn = registry.loopback_connector("http://127.0.0.1:9", symbol="X", clock=LiveClock(), venue=alias)
        assert conn.venue == alias
    assert main(["testnet", "--sim", "--exchange=okx-swap,bybit-linear", "--order"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "0 failed, 10 passed, 0 skipped" in out
    for venue in ("okx-swap", "bybit-linear"):
        (row,) = [r for r in out.splitlines() if r.split()[:3] == [venue, "order", "round"]]
        assert "placed in" in row
