"""Canary: no secret reaches any log, at any level, from any library (RELIABILITY issue 13, defect 8).

Every venue's paper and testnet flow runs against its simulator in a subprocess with the root logger at
DEBUG (so `websockets`, `aiohttp`, `ib_async` and `asyncio` log everything they would), with known
credentials: the simulators' demo keys and secrets, and a configured run whose Alpaca secret and Polymarket
wallet key come from keystores (their password and the L2 credentials the venue derives included). All
output, stdout and stderr, is searched for each secret, raw and in the encodings a frame dump uses.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.campaign.figures import record
from trader.secrets import write_keystore
from trader.sim.alpaca import DEMO_KEY, DEMO_SECRET, AlpacaSimServer
from trader.sim.polymarket import PolymarketSimServer
from trader.sim.server import SimThread
from trader.venues.registry import SIM_API_KEY, SIM_SECRET

# the CLI has no log-level option: what an operator (or an embedding) gets from logging.basicConfig
DEBUG_MAIN = (
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, format='%(levelname)s %(name)s %(message)s')\n"
    "from trader.cli import main\n"
    "raise SystemExit(main(sys.argv[1:]))\n"
)
PAPER = ["--duration=1.5", "--json", "--no-view"]
FLOWS: dict[str, list[str]] = {
    "sim paper": ["paper", "--exchange=sim", *PAPER],
    "binance paper (ws orders)": ["paper", "--exchange=binance", "--sim", "--order-entry=ws", *PAPER],
    "alpaca paper": ["paper", "--exchange=alpaca", "--sim", *PAPER],
    "ibkr paper": ["paper", "--exchange=ibkr", "--sim", *PAPER],
    "polymarket paper": ["paper", "--exchange=polymarket", "--sim", *PAPER],
    **{
        f"{v} testnet": ["testnet", f"--exchange={v}", "--sim", "--order"]
        for v in ("sim", "binance", "alpaca", "ibkr", "polymarket")
    },
}
WALLET_KEY = "7c" * 16 + "e1" * 16  # a Polymarket wallet key (hex), only ever in a keystore
KEYSTORE_PASSWORD = "canary keystore password 4b1d"
# "secret": "...", passphrase=..., private_key: ... with a value: a secret's shape, whatever its value
SHAPE = re.compile(
    r"(?i)(secret|passphrase|private[_ ]?key|password)[\"']?\s*[:=]\s*[\"']?(?!\*|<|\[redacted)[\w+/=.-]{8,}"
)


def encodings(secret: str) -> set[str]:
    raw = secret.encode()
    return {
        secret,
        raw.hex(),
        raw.hex(" "),  # websockets' binary frame dumps
        base64.b64encode(raw).decode().rstrip("="),
        base64.urlsafe_b64encode(raw).decode().rstrip("="),
    }


def run_all(flows: dict[str, list[str]], env: dict[str, str]) -> dict[str, subprocess.CompletedProcess[str]]:
    """All flows at once (the simulators bind port 0), each with stdout and stderr captured."""
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", DEBUG_MAIN, *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for name, argv in flows.items()
    }
    out = {}
    for name, p in procs.items():
        stdout, stderr = p.communicate(timeout=120)
        out[name] = subprocess.CompletedProcess(p.args, p.returncode, stdout, stderr)
    return out


@pytest.fixture
def configured(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[Path, SimThread, SimThread]]:
    """A config whose Alpaca secret and Polymarket wallet key are keystores, against simulators on threads
    of this process (so the credentials the venue derived can be read afterwards)."""
    alpaca, pm = SimThread(AlpacaSimServer(seed=2)), SimThread(PolymarketSimServer(seed=4))
    market = next(m for m in pm.server.markets.values() if not m.neg_risk)
    write_keystore(tmp_path / "alpaca.json", DEMO_SECRET, KEYSTORE_PASSWORD, log_n=12)
    write_keystore(tmp_path / "wallet.json", "0x" + WALLET_KEY, KEYSTORE_PASSWORD, log_n=12)
    monkeypatch.setenv("TRADER_KEYSTORE_PASSWORD", KEYSTORE_PASSWORD)
    monkeypatch.setenv("CANARY_ALPACA_KEY", DEMO_KEY)
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f"""
[venues.alpaca]
api_key = "env:CANARY_ALPACA_KEY"
secret = "keystore:{tmp_path / "alpaca.json"}"
environment = "sim"
url = "{alpaca.server.url}"

[venues.polymarket]
private_key = "keystore:{tmp_path / "wallet.json"}"
environment = "sim"
url = "{pm.server.url}"
condition_id = "{market.condition_id}"
"""
    )
    yield cfg, alpaca, pm
    alpaca.close()
    pm.close()


def test_no_secret_in_any_output_at_debug(configured: tuple[Path, SimThread, SimThread]) -> None:
    cfg, _, pm = configured
    flows = {**FLOWS, "configured testnet (keystores)": ["testnet", f"--config={cfg}", "--order"]}
    results = run_all(flows, dict(os.environ))
    derived = [s for k in pm.server.keys.values() for s in (k.secret, k.passphrase, k.key)]
    assert derived, "the configured run logged in to Polymarket (L2 credentials were derived)"
    secrets = [SIM_API_KEY, SIM_SECRET, DEMO_KEY, DEMO_SECRET, WALLET_KEY, KEYSTORE_PASSWORD, *derived]
    needles = {e for s in secrets for e in encodings(s)}
    hits = {name: sorted(n for n in needles if n in r.stdout + r.stderr) for name, r in results.items()}
    shapes = {name: [m.group(0) for m in SHAPE.finditer(r.stdout + r.stderr)] for name, r in results.items()}
    record(
        "canary",
        {
            "flows": len(results),
            "ran": sum(r.returncode == 0 for r in results.values()),
            "secrets": len(secrets),
            "hits": sum(map(len, hits.values())),
            "shapes": sum(map(len, shapes.values())),
        },
    )
    for name, r in results.items():
        assert r.returncode == 0, f"{name}: the flow must run to be a canary\n{r.stderr[-3000:]}"
        text = r.stdout + r.stderr
        assert "DEBUG " in text, f"{name}: DEBUG logging was on"
        assert hits[name] == [], f"{name}: secrets in the output: {hits[name]}"
        assert shapes[name] == [], f"{name}: something shaped like a secret in the output: {shapes[name][:5]}"
        if name.endswith("paper") or "paper (" in name:
            assert json.loads(r.stdout)["orders"] > 0, f"{name}: it traded (it logged in)"
        else:
            assert " 0 failed" in r.stdout or r.stdout.startswith("0 failed") or "\n0 failed" in r.stdout, (
                name
            )
