import subprocess
import sys
from pathlib import Path

import pytest

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
        main(["paper", "--duration", "10", "--seed", "2", "--json", "--journal", str(tmp_path / "j.db")])
        == EXIT_OK
    )
    data = json.loads(capsys.readouterr().out)
    assert data["open_orders_after_shutdown"] == 0
    assert data["orders"] > 0
    assert {"fills", "fees", "pnl", "max_inventory", "denials", "tick_to_order_p50_us"} <= set(data)


def test_paper_refuses_what_is_not_built(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["paper", "--exchange", "binance"]) == EXIT_USAGE
    assert "not available yet" in capsys.readouterr().err
    assert main(["paper", "--duration", "0"]) == EXIT_USAGE


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
    assert main(["paper", "--duration", "5", "--json", "--config", str(cfg)]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["denials"], "a 100 USDT exposure limit denies the market maker's 50 x 0.001 BTC quotes"
    assert data["orders"] == 0
    assert main(["paper", "--config", str(tmp_path / "missing.toml")]) == EXIT_USAGE
