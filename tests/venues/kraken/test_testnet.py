"""`trader testnet --exchange=kraken`: Kraken has no spot testnet or sandbox, and the command says so,
with what it checked (the simulator, or a live key read-only) and what it could not."""

from __future__ import annotations

from pathlib import Path

import pytest

from trader.cli import EXIT_OK, EXIT_USAGE, main


def test_testnet_against_the_kraken_simulator_says_it_is_not_kraken(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert main(["testnet", "--exchange=kraken", "--sim", "--order"]) == EXIT_OK
    out = capsys.readouterr().out
    assert "0 failed, 5 passed, 0 skipped" in out
    assert "note: kraken has no testnet or sandbox (environments: live, sim)" in out
    assert "these checks ran against its local simulator, not the venue" in out
    assert "not checked: an order on a real test venue" in out


def test_testnet_without_a_config_says_what_a_live_key_would_be_checked_for(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["testnet", "--exchange=kraken", f"--config={tmp_path / 'none.toml'}"]) == EXIT_USAGE
    err = capsys.readouterr().err
    assert "kraken has no testnet or sandbox" in err
    assert "a live key is checked read-only (reachability, clock, auth, market data)" in err
    assert "--order with a live key places a real order" in err


@pytest.mark.parametrize("environment", ["testnet", "paper"])
def test_a_kraken_testnet_in_the_config_is_refused(
    environment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("K_KEY", "k")
    monkeypatch.setenv("K_SECRET", "c2VjcmV0")
    cfg = tmp_path / "c.toml"
    cfg.write_text(
        f'[venues.kraken]\nenvironment = "{environment}"\napi_key = "env:K_KEY"\nsecret = "env:K_SECRET"\n'
    )
    assert main(["testnet", f"--config={cfg}"]) == EXIT_USAGE
    assert "Kraken has no spot testnet" in capsys.readouterr().err
