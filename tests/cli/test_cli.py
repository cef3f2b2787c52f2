import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import plan_a_venue
from trader.cli import EXIT_OK, EXIT_USAGE, main
from trader.core import core_version

ROOT = Path(__file__).parents[2]


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--version"]) == EXIT_OK
    assert capsys.readouterr().out.strip().endswith(f"(core {core_version})")


def test_no_command_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == EXIT_USAGE
    assert "usage: trader" in capsys.readouterr().err


def test_module_and_launcher_run() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "trader", "version"], capture_output=True, text=True, check=True, timeout=60
    )
    assert out.stdout.startswith("trader ")
    launcher = subprocess.run(
        ["bash", str(ROOT / "bin" / "trader"), "--version"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    assert launcher.stdout == out.stdout


def test_paper_json_summary(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import json

    assert (
        main(
            [
                "paper",
                "--fast",
                "--duration",
                "10",
                "--seed",
                "2",
                "--json",
                "--journal",
                str(tmp_path / "j.db"),
            ]
        )
        == EXIT_OK
    )
    data = json.loads(capsys.readouterr().out)
    assert data["open_orders_after_shutdown"] == 0
    assert data["orders"] > 0
    assert {"fills", "fees", "pnl", "max_inventory", "denials", "tick_to_order_p50_us"} <= set(data)


def test_paper_in_real_time_through_the_loopback_venue(capsys: pytest.CaptureFixture[str]) -> None:
    """Without --fast: a loopback simulator, the real connector over HTTP and WebSocket, real time."""
    import json

    assert main(["paper", "--exchange", "binance", "--sim", "--duration", "2", "--json"]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] > 0
    assert data["open_orders_after_shutdown"] == 0
    assert 1.5 < data["seconds"] < 10


def test_paper_refuses_what_needs_credentials_or_is_not_built(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    plan_a_venue(monkeypatch)
    assert main(["paper", "--exchange", "binance"]) == EXIT_USAGE
    assert "--exchange=binance needs --sim" in capsys.readouterr().err
    assert main(["paper", "--exchange", "future", "--sim"]) == EXIT_USAGE
    assert "no connector for future yet" in capsys.readouterr().err
    assert main(["paper", "--strategy", "nope"]) == EXIT_USAGE
    assert main(["paper", "--duration", "0"]) == EXIT_USAGE


def test_testnet_against_the_simulator(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["testnet", "--sim", "--order"]) == EXIT_OK
    out = capsys.readouterr().out
    for check in ("reachability", "clock", "auth", "market data", "order round trip"):
        assert f"{check}" in out
    assert "0 failed, 5 passed, 0 skipped" in out


def test_testnet_reports_an_unreachable_venue(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from trader.cli import EXIT_FAILED

    plan_a_venue(monkeypatch)
    cfg = tmp_path / "config.toml"
    cfg.write_text('[venues.future]\napi_key = "env:K"\nsecret = "env:S"\n')
    assert main(["testnet", "--config", str(cfg)]) == EXIT_FAILED  # a venue we cannot check is no pass
    out = capsys.readouterr().out
    assert "FAIL" in out
    assert "no connector for future yet" in out
    assert main(["testnet", "--config", str(tmp_path / "missing.toml")]) == EXIT_USAGE
    from trader.cli.testnet import check_connector
    from trader.clock import LiveClock
    from trader.venues.registry import loopback_connector

    async def unreachable() -> list[str]:
        conn = loopback_connector("http://127.0.0.1:9", symbol="BTCUSDT", clock=LiveClock())
        try:
            return [c.verdict for c in await check_connector(conn, "BTCUSDT", order=True)]
        finally:
            await conn.close()

    import asyncio

    assert asyncio.run(unreachable()) == ["FAIL", "SKIP", "SKIP", "SKIP", "SKIP"]
    assert EXIT_FAILED == 1


def test_kill_latches_the_journal(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from trader.engine.journal import Journal

    journal = tmp_path / "j.db"
    assert main(["kill", "--journal", str(journal)]) == EXIT_USAGE  # no such journal
    Journal(journal).close()
    assert main(["kill", "--journal", str(journal)]) == EXIT_OK
    assert "latched" in capsys.readouterr().out
    assert main(["kill", "--journal", str(journal), "--reset"]) == EXIT_USAGE  # needs --operator
    # a killed journal starts halted: the session sends nothing
    import json

    assert main(["paper", "--fast", "--duration", "3", "--json", "--journal", str(journal)]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert (data["orders"], data["killed"]) == (0, True)
    assert data["denials"]
    reset = ["kill", "--journal", str(journal), "--reset", "--operator", "alice"]
    assert main(reset) == EXIT_USAGE, "a name alone does not clear it: proof is needed"
    token = journal.with_name(journal.name + ".reset-token")  # written by the session at start
    assert main([*reset, "--token-file", str(token)]) == EXIT_OK
    capsys.readouterr()
    assert main(["paper", "--fast", "--duration", "3", "--json", "--journal", str(journal)]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["orders"] > 0


def test_live_refusals(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    from trader.cli import EXIT_FAILED

    cfg = tmp_path / "config.toml"
    assert main(["live", "--exchange", "binance"]) == EXIT_USAGE
    assert "without --confirm" in capsys.readouterr().err
    assert main(["live", "--exchange", "nowhere", "--confirm"]) == EXIT_USAGE
    assert main(["live", "--exchange", "binance", "--confirm", "--config", str(cfg)]) == EXIT_USAGE
    assert "cannot read config" in capsys.readouterr().err
    cfg.write_text('[venues.binance]\napi_key = "env:K"\nsecret = "env:S"\n')
    assert main(["live", "--exchange", "binance", "--confirm", "--config", str(cfg)]) == EXIT_USAGE
    assert "no [risk] section" in capsys.readouterr().err
    cfg.write_text(
        '[risk]\nmax_gross_notional = "1000"\nmax_net_notional = "500"\nmax_open_orders = 5\n'
        'max_orders_per_sec = 2\ndaily_loss_limit = "50"\n'
        '[venues.binance]\napi_key = "env:K"\nsecret = "env:S"\n'
    )
    assert main(["live", "--exchange", "binance", "--confirm", "--config", str(cfg)]) == EXIT_FAILED
    out = capsys.readouterr()
    assert "max_gross_notional" in out.out
    assert "preflight failed" in out.err
    assert "nothing was sent" in out.err


def test_venues(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["venues"]) == EXIT_OK
    out = capsys.readouterr().out
    for venue in ("ibkr", "alpaca", "binance", "coinbase", "kraken", "okx", "bybit", "polymarket", "sim"):
        assert venue in out


def test_paper_enforces_config_limits(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import json

    cfg = tmp_path / "config.toml"
    cfg.write_text(
        '[risk]\nmax_gross_notional = "100"\nmax_net_notional = "100"\nmax_open_orders = 2\n'
        'max_orders_per_sec = 2\ndaily_loss_limit = "50"\n'
    )
    assert main(["paper", "--fast", "--duration", "5", "--json", "--config", str(cfg)]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["denials"], "a 100 USDT exposure limit denies the market maker's 50 x 0.001 BTC quotes"
    assert data["orders"] == 0
    assert main(["paper", "--config", str(tmp_path / "missing.toml")]) == EXIT_USAGE


def test_paper_runs_as_the_config_engine_section_says(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """`[engine]` busy_poll: the session busy-polls and rehearses its orders, as with --busy-poll;
    `cpu` pins as --cpu does (a CPU the machine lacks is refused before anything starts)."""
    import json

    risk = (
        '[risk]\nmax_gross_notional = "100000"\nmax_net_notional = "100000"\nmax_open_orders = 20\n'
        'orders_per_second = 20\ndaily_loss_limit = "500"\n'
    )
    cfg = tmp_path / "config.toml"
    cfg.write_text(risk + "\n[engine]\nbusy_poll = true\n")
    assert main(["paper", "--duration", "2", "--json", "--no-view", "--config", str(cfg)]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["orders"] > 0
    assert data["rehearsals"] > 0, "busy-polled and rehearsed, from the config alone"
    cfg.write_text(risk + "\n[engine]\nbusy_poll = true\nrehearsal = false\n")
    assert main(["paper", "--duration", "1", "--json", "--no-view", "--config", str(cfg)]) == EXIT_OK
    assert json.loads(capsys.readouterr().out)["rehearsals"] == 0
    cfg.write_text(risk + '\n[engine]\ncpu = "4095"\n')
    assert main(["paper", "--duration", "1", "--config", str(cfg)]) == EXIT_USAGE
    assert "cannot pin" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["testnet", "paper", "sim"])
@pytest.mark.parametrize("venue", ["future", "nope"])
def test_a_venue_without_a_connector_says_so_and_exits_non_zero(
    command: str, venue: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The registry never pretends: no simulator stands in for a venue that is not built (every venue
    the mission names is built now, so a planned one is made up here)."""

    plan_a_venue(monkeypatch)
    argv = {
        "testnet": ["testnet", f"--exchange={venue}", "--sim", "--order"],
        "paper": ["paper", f"--exchange={venue}", "--sim", "--duration=1"],
        "sim": ["sim", venue, "--port=0"],
    }[command]
    assert main(argv) == EXIT_USAGE
    captured = capsys.readouterr()
    assert "PASS" not in captured.out
    said = "unknown venue" if venue == "nope" else f"no connector for {venue} yet"
    assert said in captured.err
