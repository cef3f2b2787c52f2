"""`trader approve --exchange=polymarket`: the approvals trading needs, shown, then sent with --confirm as
signed EIP-155 transactions to the simulator's chain (which recovers the sender with eth-account), and
USDC.e wrapped into pUSD; the CLI names no venue (the capability is the profile's)."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from eth_account import Account
from eth_utils.crypto import keccak

from trader.cli import EXIT_FAILED, EXIT_OK, EXIT_USAGE, main
from trader.sim.polymarket import UNIT, PolymarketSimServer
from trader.sim.server import SimThread
from trader.venues import registry
from trader.venues.polymarket import approvals, endpoints


def test_selectors_and_the_profile_capability() -> None:
    for selector, signature in (
        (approvals.SEL_APPROVE, "approve(address,uint256)"),
        (approvals.SEL_SET_APPROVAL_FOR_ALL, "setApprovalForAll(address,bool)"),
        (approvals.SEL_WRAP, "wrap(address,address,uint256)"),
    ):
        assert keccak(text=signature)[:4].hex() == selector
    assert registry.profile("polymarket").approve is approvals.approve
    assert {g.contract for g in approvals.GRANTS} == {
        endpoints.COLLATERAL,
        endpoints.CTF,
        endpoints.POSITION_MANAGER,
    }
    assert len(approvals.GRANTS) == 16  # the SDK's list without the perps deposit


def _config(tmp_path: Path, url: str, key: str, extra: str = "") -> Path:
    cfg = tmp_path / "polymarket.toml"
    cfg.write_text(
        f'[venues.polymarket]\nprivate_key = "env:APPROVE_TEST_KEY"\nenvironment = "sim"\nurl = "{url}"\n'
        f'condition_id = "0x{"00" * 32}"\n{extra}'
    )
    return cfg


def test_approve_shows_then_sends_the_missing_approvals_and_wraps_usdc(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    key = "0x" + hashlib.sha256(b"approve-test").hexdigest()
    me = Account.from_key(key).address
    monkeypatch.setenv("APPROVE_TEST_KEY", key)
    pm = SimThread(PolymarketSimServer(seed=4, background=False))
    try:
        server = pm.server
        server.set_allowance(me, endpoints.EXCHANGE_V3, 0)
        server.set_approval(me, endpoints.EXCHANGE, False)
        server.set_approval(me, endpoints.EXCHANGE_V3, False, v2=True)
        cfg = _config(tmp_path, server.url, key)
        assert main(["approve", "--exchange=polymarket", f"--config={cfg}"]) == EXIT_FAILED
        out = capsys.readouterr().out
        assert "13 of 16 approvals given" in out
        assert out.count("MISSING") == 3
        assert "CollateralOnramp (0x93070a847efEf7F70739046A929D47a521F5B8ee)" in out
        assert "rerun with --confirm" in out
        assert server.chain_nonces.get(me.lower(), 0) == 0  # nothing was sent

        before = server.wallet(me).collateral
        argv = ["approve", "--exchange=polymarket", f"--config={cfg}", "--confirm", "--wrap=2.5"]
        assert main(argv) == EXIT_OK
        out = capsys.readouterr().out
        assert out.count("confirmed") == 5  # three approvals, the USDC.e approval and the wrap
        w = server.wallet(me)
        assert w.allowance[endpoints.EXCHANGE_V3.lower()] == approvals.MAX_UINT256
        assert endpoints.EXCHANGE.lower() in w.approved
        assert endpoints.EXCHANGE_V3.lower() in w.approved_v2
        assert w.collateral == before + 25 * UNIT // 10
        assert server.chain_nonces[me.lower()] == 5
        assert key[2:] not in out

        assert main(["approve", "--exchange=polymarket", f"--config={cfg}"]) == EXIT_OK
        assert "16 of 16 approvals given" in capsys.readouterr().out
    finally:
        pm.close()


def test_approve_refuses_what_it_cannot_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("APPROVE_TEST_KEY", "0x" + "11" * 32)
    cfg = _config(tmp_path, "http://127.0.0.1:9", "", 'signature_type = 2\nfunder = "0x' + "22" * 20 + '"\n')
    assert main(["approve", "--exchange=polymarket", f"--config={cfg}"]) == EXIT_USAGE
    assert "approved through Polymarket (its relayer)" in capsys.readouterr().err
    dead = _config(tmp_path, "http://127.0.0.1:9", "")
    assert main(["approve", "--exchange=polymarket", f"--config={dead}"]) == EXIT_FAILED
    assert "the Polygon RPC http://127.0.0.1 does not answer" in capsys.readouterr().err
    assert main(["approve", "--exchange=binance", f"--config={dead}"]) == EXIT_USAGE
    assert "binance needs no on-chain approvals" in capsys.readouterr().err
