"""Bad input (issue 13): every case gives one line on stderr and a documented exit code (2: usage or
configuration, 1: a check failed), no traceback, sends nothing, loses nothing.

The table is run by one test: each case builds its files in a fresh directory, runs `trader`
in process (`main([...])`), and is held to the same checks: the exit code, exactly one stderr line naming
the problem, the directory byte-for-byte (and mode-for-mode) as it was, and a running simulator that
received no request at all (paper and kill cases point at it with `--venue-url`, testnet and live cases
with `environment = "sim"`). Cases whose point is the process (a KDF that would abort or hang it) run in a
subprocess with a timeout.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sqlite3
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import pytest

from tests.campaign.figures import record
from trader.cli import EXIT_FAILED, EXIT_USAGE, main
from trader.clock import LiveClock
from trader.core import Side
from trader.engine import oms
from trader.engine.journal import Journal
from trader.errors import ConfigError
from trader.secrets import write_keystore
from trader.sim.binance import BinanceSimServer

PASSWORD = "correct horse"
RISK = """[risk]
max_gross_notional = "1000"
max_net_notional = "500"
max_open_orders = 5
max_orders_per_sec = 5
daily_loss_limit = "10"
"""


# ---- the simulator nothing may reach ---------------------------------------------------------------


@dataclass
class Sim:
    server: BinanceSimServer
    url: str

    def requests(self) -> int:
        return sum(self.server.requests.values())


@pytest.fixture(scope="module")
def sim() -> Iterator[Sim]:
    """A loopback simulator on a loop of its own thread, so `main` can run its own loop meanwhile."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    server = BinanceSimServer(seed=7, clock=LiveClock(), venue="sim")
    asyncio.run_coroutine_threadsafe(server.start(port=0), loop).result(10)
    try:
        yield Sim(server, server.url)
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


# ---- files the cases are built from ----------------------------------------------------------------


def journal(path: Path, venue: str = "sim", instrument: str = "BTCUSDT", *, bind: bool = True) -> None:
    """A real journal: one order accepted and filled, one resting; bound like an engine binds it."""
    j = Journal(path)
    j.set_counter_at_least("client_order_id", 2)  # as if the ids below came from the journal's counter
    if bind:
        j.bind(venue, [instrument])
    for n, price in enumerate((100, 101)):
        order = oms.Order(f"mm-{n + 1}", venue, instrument, Side.BUY, price, 2)
        j.record_intent(order, ts_ns=n, submitted=True)
        j.record_event(order.client_id, oms.Accepted(f"v{n}"), n)
    j.record_event("mm-1", oms.Filled(oms.Fill("t1", 2, 100, Decimal("0.01"), 5)), 5)
    j.close()


def a_journal(d: Path) -> None:
    journal(d / "j.db")


def bad_row(payload: str, kind: str = "Accepted", client_id: str = "mm-1") -> Callable[[Path], None]:
    def make(d: Path) -> None:
        journal(d / "j.db")
        db = sqlite3.connect(d / "j.db")
        with db:
            db.execute(
                "INSERT INTO events (ts_ns, client_id, kind, payload) VALUES (9, ?, ?, ?)",
                (client_id, kind, payload),
            )
        db.close()

    return make


def truncated(d: Path) -> None:
    journal(d / "j.db")
    data = (d / "j.db").read_bytes()
    (d / "j.db").write_bytes(data[: len(data) // 2])


def corrupt(d: Path) -> None:
    journal(d / "j.db")
    data = bytearray((d / "j.db").read_bytes())
    data[4096:12288] = b"\xa5" * 8192  # pages 2 and 3: the tables' b-trees
    (d / "j.db").write_bytes(bytes(data))


def read_only(d: Path) -> None:
    journal(d / "j.db")
    (d / "j.db").chmod(0o444)


def text(name: str, content: str | bytes) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        data = content.encode() if isinstance(content, str) else content
        (d / name).write_bytes(data)

    return make


def both(*makers: Callable[[Path], None]) -> Callable[[Path], None]:
    def make(d: Path) -> None:
        for m in makers:
            m(d)

    return make


def keystore(**kdf: object) -> Callable[[Path], None]:
    """A real keystore (`ks.json`, scrypt n = 2^10) with `kdfparams` (or, with `kdf=`, the kdf) replaced."""

    def make(d: Path) -> None:
        write_keystore(d / "ks.json", "api-secret", PASSWORD, log_n=10)
        doc = json.loads((d / "ks.json").read_text())
        crypto = doc["crypto"]
        if kdf.get("kdf") == "pbkdf2":
            salt = crypto["kdfparams"]["salt"]
            crypto["kdfparams"] = {"dklen": 32, "prf": "hmac-sha256", "salt": salt}
        crypto["kdf"] = kdf.get("kdf", crypto["kdf"])
        crypto["kdfparams"].update({k: v for k, v in kdf.items() if k != "kdf"})
        (d / "ks.json").write_text(json.dumps(doc))

    return make


def venue_config(ref: str = "keystore:{d}/ks.json", key_type: str = "hmac") -> Callable[[Path], None]:
    """`c.toml`: risk limits and a binance venue at the test simulator (`{sim}` filled in by the runner)."""
    return text(
        "c.toml",
        RISK + "[venues.binance]\n"
        f'environment = "sim"\nurl = "{{sim}}"\napi_key = "env:BAD_INPUT_KEY"\nsecret = "{ref}"\n'
        f'key_type = "{key_type}"\n',
    )


VENUE = venue_config()
ED25519 = venue_config("env:BAD_INPUT_SECRET", "ed25519")


def risk_config(**override: object) -> Callable[[Path], None]:
    lines = [line for line in RISK.splitlines()[1:] if line.split(" = ")[0] not in override]
    lines += [f"{k} = {json.dumps(v)}" for k, v in override.items()]
    return text("c.toml", "[risk]\n" + "\n".join(lines) + "\n")


# ---- the table -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Case:
    id: str
    argv: str  # split on spaces; {d}: the case's directory, {sim}: the simulator's URL
    code: int
    says: str  # a fragment of the one stderr line
    files: Callable[[Path], None] = lambda d: None
    env: dict[str, str] = field(default_factory=dict)


PAPER = "paper --venue-url={sim} --duration=1 --no-view"
FAST = "paper --fast --duration=1 --json"
J = "--journal={d}/j.db"
CFG = "--config={d}/c.toml"
TESTNET = f"testnet {CFG} --exchange=binance"
LIVE = f"live --exchange=binance --confirm {CFG}"
KS = {"TRADER_KEYSTORE_PASSWORD": PASSWORD}
WRONG = {"TRADER_KEYSTORE_PASSWORD": "wrong"}
NOT_PEM = {"BAD_INPUT_SECRET": "not a pem"}
FILL = '{"trade_id": "t9", "qty": 1, "price": 1, "fee": "0.1", "ts_ns": 1}'
INTENT = '{"venue": "sim", "instrument": "BTCUSDT", "side": "BUY", "price": 1, "qty": 1}'

CASES = [
    # -- config: ranges the Rust gate holds, shapes, encodings, unknown sections
    Case(
        "orders-per-sec-u32", f"{FAST} {CFG}", 2, "max_orders_per_sec", risk_config(max_orders_per_sec=2**40)
    ),
    Case("open-orders-u32", f"{FAST} {CFG}", 2, "max_open_orders", risk_config(max_open_orders=2**32)),
    Case("notional-huge", f"{FAST} {CFG}", 2, "out of range", risk_config(max_gross_notional="1e30")),
    Case("notional-places", f"{FAST} {CFG}", 2, "decimal places", risk_config(max_net_notional="1e-19")),
    Case("notional-exp", f"{FAST} {CFG}", 2, "out of range", risk_config(daily_loss_limit="1e999999999")),
    Case("risk-array", f"{FAST} {CFG}", 2, "[risk] must be a table", text("c.toml", "risk = [1, 2]\n")),
    Case("venues-string", f"{FAST} {CFG}", 2, "[venues] must be a table", text("c.toml", 'venues = "x"\n')),
    Case("env-array", f"{FAST} {CFG}", 2, "environment", text("c.toml", "[venues.x]\nenvironment = [1]\n")),
    Case(
        "option-port", f"{FAST} {CFG}", 2, "not a TCP port", text("c.toml", "[venues.ibkr]\nport = 99999\n")
    ),
    Case(
        "option-int",
        f"{FAST} {CFG}",
        2,
        "out of range",
        text("c.toml", "[venues.b]\nleverage = 4294967296\n"),
    ),
    Case("non-utf8", f"{FAST} {CFG}", 2, "not UTF-8", text("c.toml", b"[risk]\n# \xff\xfe\n")),
    Case("not-toml", f"{FAST} {CFG}", 2, "not valid TOML", text("c.toml", "[risk\n")),
    Case(
        "unknown-section", f"{FAST} {CFG}", 2, "unknown sections: engin", text("c.toml", "[engin]\nx = 1\n")
    ),
    Case(
        "unknown-engine-key",
        f"{FAST} {CFG}",
        2,
        "[engine] has unknown keys: x",
        text("c.toml", "[engine]\nx = 1\n"),
    ),
    Case("config-is-dir", f"{FAST} --config={{d}}", 2, "cannot read config"),
    Case("live-non-utf8", LIVE, 2, "not UTF-8", text("c.toml", b"\xff")),
    Case("testnet-risk-negative", TESTNET, 2, "max_open_orders", risk_config(max_open_orders=-1)),
    # -- command line
    Case("url-garbage", "paper --venue-url=garbage --duration=1 --no-view", 2, "--venue-url"),
    Case("url-ftp", "paper --venue-url=ftp://127.0.0.1:1/ --duration=1 --no-view", 2, "--venue-url"),
    Case("url-port", "paper --venue-url=http://127.0.0.1:99999 --duration=1 --no-view", 2, "--venue-url"),
    Case("url-no-host", "paper --venue-url=http:// --duration=1 --no-view", 2, "--venue-url"),
    Case("url-ibkr-http", "paper --exchange=ibkr --venue-url={sim} --duration=1 --no-view", 2, "tcp://"),
    Case("kill-url", f"kill {J} --venue-url=ftp://x", 2, "--venue-url", a_journal),
    Case("sim-port-high", "sim sim --port=99999", 2, "not a TCP port"),
    Case("sim-port-negative", "sim sim --port=-1", 2, "not a TCP port"),
    Case("sim-port-text", "sim sim --port=abc", 2, "invalid int value"),
    Case("duration-nan", f"{PAPER} --duration=nan", 2, "--duration"),
    Case("duration-inf", f"{PAPER} --duration=inf", 2, "--duration"),
    Case("duration-minus-inf", f"{PAPER} --duration=-inf", 2, "--duration"),
    Case("duration-1e308", f"{PAPER} --duration=1e308", 2, "--duration"),
    Case("duration-fast-nan", f"{FAST} --duration=nan", 2, "--duration"),
    Case("testnet-unknown-sim", "testnet --exchange=nope --sim", 2, "unknown venue 'nope'"),
    Case(
        "signal-missing",
        "paper --exchange=polymarket --sim --strategy=event --signal={d}/none.jsonl --duration=1 --no-view",
        2,
        "no such file",
    ),
    Case(
        "signal-bad-url",
        "paper --exchange=polymarket --sim --strategy=event --signal=http:// --duration=1 --no-view",
        2,
        "--signal",
    ),
    Case("unknown-option", "paper --frobnicate", 2, "unrecognized arguments"),
    # -- journals: kill and paper refuse what is not a journal they may write, and write nothing
    *(
        Case(f"{cmd.split()[0]}-{name}", f"{cmd} {J}", 2, says, files)
        for cmd in ("kill --venue-url={sim}", PAPER)
        for name, says, files in (
            ("truncated", "cannot open journal", truncated),
            ("corrupt", "malformed", corrupt),
            ("not-sqlite", "file is not a database", text("j.db", "hello, not a journal\n" * 50)),
            ("read-only", "read-only", read_only),
            ("directory", "is a directory", lambda d: (d / "j.db").mkdir()),
        )
    ),
    Case("paper-row-not-json", f"{PAPER} {J}", 2, "event 8 is malformed", bad_row("{not json")),
    Case("paper-row-json-list", f"{PAPER} {J}", 2, "event 8 is malformed", bad_row("[1]")),
    Case("paper-row-kind", f"{PAPER} {J}", 2, "unknown event kind", bad_row("{}", kind="Teleported")),
    Case("paper-row-field", f"{PAPER} {J}", 2, "is malformed", bad_row('{"nope": 1}')),
    Case("paper-row-type", f"{PAPER} {J}", 2, "is malformed", bad_row('{"venue_order_id": 7}')),
    Case(
        "paper-row-fee", f"{PAPER} {J}", 2, "is malformed", bad_row(FILL.replace('"0.1"', '"lots"'), "Filled")
    ),
    Case(
        "paper-row-fill-qty",
        f"{PAPER} {J}",
        2,
        "is malformed",
        bad_row(FILL.replace('"qty": 1', '"qty": "1"'), "Filled"),
    ),
    Case(
        "paper-row-side",
        f"{PAPER} {J}",
        2,
        "is malformed",
        bad_row(INTENT.replace("BUY", "UP"), "Intent", "x-9"),
    ),
    Case(
        "paper-row-price", f"{PAPER} {J}", 2, "is malformed", bad_row(INTENT.replace("1,", '"1",'), "Intent")
    ),
    Case(
        "paper-row-orphan", f"{PAPER} {J}", 2, "no intent", bad_row("{}", kind="Canceled", client_id="mm-77")
    ),
    Case(
        "paper-other-venue", f"{PAPER} {J}", 2, "belongs to binance", lambda d: journal(d / "j.db", "binance")
    ),
    Case(
        "paper-other-symbol",
        f"{PAPER} {J}",
        2,
        "belongs to sim ETH",
        lambda d: journal(d / "j.db", "sim", "ETH"),
    ),
    Case(
        "paper-other-venue-unbound",
        f"{PAPER} {J}",
        2,
        "holds orders of binance",
        lambda d: journal(d / "j.db", "binance", bind=False),
    ),
    Case(
        "fast-other-venue", f"{FAST} {J}", 2, "belongs to binance", lambda d: journal(d / "j.db", "binance")
    ),
    # -- keystores and keys: refused before the KDF runs, or reported as the check that failed
    Case("testnet-wrong-password", TESTNET, 1, "wrong password", both(keystore(), venue_config()), WRONG),
    Case("live-wrong-password", LIVE, 1, "wrong password", both(keystore(), venue_config()), WRONG),
    Case(
        "testnet-keystore-corrupt", TESTNET, 2, "not JSON", both(text("ks.json", '{"version": 3,'), VENUE), KS
    ),
    Case("testnet-keystore-v1", TESTNET, 2, "version 3", both(text("ks.json", '{"version": 1}'), VENUE), KS),
    Case("testnet-keystore-binary", TESTNET, 2, "not UTF-8", both(text("ks.json", b"\xff" * 9), VENUE), KS),
    Case("testnet-keystore-huge", TESTNET, 2, "larger than", both(text("ks.json", " " * 70_000), VENUE), KS),
    Case(
        "testnet-keystore-dir",
        TESTNET,
        2,
        "cannot read keystore",
        both(lambda d: (d / "ks.json").mkdir(), VENUE),
        KS,
    ),
    Case("testnet-scrypt-p", TESTNET, 2, "kdfparams p", both(keystore(p=2**31), venue_config()), KS),
    Case("testnet-scrypt-n-odd", TESTNET, 2, "power of two", both(keystore(n=1000), venue_config()), KS),
    Case("testnet-dklen-16", TESTNET, 2, "kdfparams dklen", both(keystore(dklen=16), venue_config()), KS),
    Case("testnet-kdf-md5", TESTNET, 2, "kdf must be", both(keystore(kdf="md5"), venue_config()), KS),
    Case("testnet-pbkdf2-c-text", TESTNET, 2, "kdfparams c", both(keystore(kdf="pbkdf2", c="x"), VENUE), KS),
    Case("testnet-ed25519-not-pem", TESTNET, 1, "not an Ed25519 PKCS#8 PEM", ED25519, NOT_PEM),
    Case("live-ed25519-not-pem", LIVE, 1, "not an Ed25519 PKCS#8 PEM", ED25519, NOT_PEM),
]

# The KDF cases that aborted (scrypt n = 2^30 or r = 2^20 allocating 128·n·r bytes, a 64 GiB key) or hung
# (4·10^9 PBKDF2 rounds, 16 GiB-seconds of scrypt): run in a process of their own, should that come back.
PROCESS_CASES = [
    Case("scrypt-n-2^30", TESTNET, 2, "kdfparams n", both(keystore(n=2**30), venue_config()), KS),
    Case("scrypt-dklen-2^36", TESTNET, 2, "kdfparams dklen", both(keystore(dklen=2**36), venue_config()), KS),
    Case("pbkdf2-c-4e9", TESTNET, 2, "kdfparams c", both(keystore(kdf="pbkdf2", c=4 * 10**9), VENUE), KS),
    Case("testnet-scrypt-r", TESTNET, 2, "kdfparams r", both(keystore(r=2**20), venue_config()), KS),
    Case("testnet-scrypt-cost", TESTNET, 2, "n·r·p", both(keystore(n=2**20, r=8, p=16), venue_config()), KS),
    Case("live-scrypt-n", LIVE, 1, "kdfparams n", both(keystore(n=2**30), venue_config()), KS),
]


Snapshot = dict[str, tuple[int, bytes]]


def snapshot(d: Path) -> Snapshot:
    """Every path under `d` with its mode and (for files) bytes: what "lose nothing" compares."""
    out = {}
    for p in sorted(d.rglob("*")):
        st = p.lstat()
        out[str(p.relative_to(d))] = (st.st_mode, p.read_bytes() if stat.S_ISREG(st.st_mode) else b"")
    return out


def prepare(case: Case, d: Path, sim: Sim, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    case.files(d)
    for p in d.rglob("*.toml"):
        p.write_text(
            p.read_text(errors="surrogateescape").replace("{sim}", sim.url).replace("{d}", str(d)),
            errors="surrogateescape",
        )
    monkeypatch.setenv("BAD_INPUT_KEY", "key")
    monkeypatch.setenv("HOME", str(d / "home"))  # `live` would make ~/.trader here (it must not get that far)
    for k, v in case.env.items():
        monkeypatch.setenv(k, v)
    return case.argv.format(d=d, sim=sim.url).split()


def assert_clean(case: Case, code: int, err: str, d: Path, before: Snapshot, sim: Sim, sent: int) -> None:
    lines = err.splitlines()
    assert code == case.code, f"{case.id}: exit {code}, stderr {err!r}"
    assert len(lines) == 1, f"{case.id}: one line on stderr, got {lines}"
    assert "Traceback" not in err, f"{case.id}: {err}"
    assert case.says in lines[0], f"{case.id}: {lines[0]!r}"
    assert lines[0].startswith("trader"), lines[0]
    assert snapshot(d) == before, f"{case.id}: its files changed"
    assert sim.requests() == sent, f"{case.id}: the simulator was sent {dict(sim.server.requests)}"


def run_case(
    case: Case, d: Path, sim: Sim, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.MonkeyPatch.context() as mp:
        argv = prepare(case, d, sim, mp)
        before, sent = snapshot(d), sim.requests()
        capsys.readouterr()
        caplog.clear()
        code = main(argv)
        out = capsys.readouterr()
    assert_clean(case, code, out.err, d, before, sim, sent)
    # without logging configured, a real process prints warnings to stderr too: there must be none
    logged = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert not logged, f"{case.id}: logged {logged}"
    if case.code == EXIT_USAGE and not case.argv.startswith("live"):
        assert out.out == "", f"{case.id}: nothing on stdout before a refusal"


@pytest.mark.timeout(60)
def test_every_bad_input_is_one_line_and_sends_nothing(
    tmp_path: Path, sim: Sim, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    """All cases in one test (a few seconds in all); every failing case is listed, not only the first."""
    assert (EXIT_USAGE, EXIT_FAILED) == (2, 1)  # the codes deployment-5.md §9 documents
    assert len({c.id for c in CASES}) == len(CASES)
    failures = []
    for case in CASES:
        (tmp_path / case.id).mkdir()
        try:
            run_case(case, tmp_path / case.id, sim, capsys, caplog)
        except (Exception, SystemExit) as e:  # a traceback (or an argparse exit) is a failed case too
            failures.append(f"{case.id}: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}")
    record("bad_input", {"cases": len(CASES), "clean": len(CASES) - len(failures), "failures": failures})
    assert not failures, f"{len(failures)} of {len(CASES)} cases are not clean:\n" + "\n".join(failures)


@pytest.mark.parametrize("case", PROCESS_CASES, ids=lambda c: c.id)
def test_kdf_parameters_beyond_wallets_are_refused_before_the_kdf_runs(
    tmp_path: Path, sim: Sim, monkeypatch: pytest.MonkeyPatch, case: Case
) -> None:
    """Before the bounds, these aborted the process (scrypt allocating) or hung deaf to Ctrl-C (PBKDF2)."""
    argv = prepare(case, tmp_path, sim, monkeypatch)
    before, sent = snapshot(tmp_path), sim.requests()
    done = subprocess.run(
        [sys.executable, "-m", "trader", *argv], capture_output=True, text=True, timeout=20, env=os.environ
    )
    assert_clean(case, done.returncode, done.stderr, tmp_path, before, sim, sent)


def test_journals_are_private(tmp_path: Path) -> None:
    """A new journal is 0600, and its WAL file follows it."""
    assert main(["paper", "--fast", "--duration=1", "--json", f"--journal={tmp_path / 'j.db'}"]) == 0
    assert stat.S_IMODE((tmp_path / "j.db").stat().st_mode) == 0o600
    j = Journal(tmp_path / "j.db")
    j.set_meta("x", "y")  # the WAL file exists while the journal is open
    assert stat.S_IMODE((tmp_path / "j.db-wal").stat().st_mode) == 0o600
    j.close()


def test_a_journal_records_its_venue_and_instruments(tmp_path: Path) -> None:
    args = ["paper", "--fast", "--duration=1", "--json", f"--journal={tmp_path / 'j.db'}"]
    assert main(args) == 0
    j = Journal(tmp_path / "j.db")
    assert j.get_meta("venue") == "sim"
    assert json.loads(j.get_meta("instruments") or "") == ["BTCUSDT"]
    with pytest.raises(ConfigError, match="belongs to sim BTCUSDT, not binance BTCUSDT"):
        j.bind("binance", ["BTCUSDT"])
    with pytest.raises(ConfigError, match="not sim BTCUSDT, ETHUSDT"):
        j.bind("sim", ["ETHUSDT", "BTCUSDT"])
    j.bind("sim", ["BTCUSDT"])  # the same venue and instrument: taken up again
    j.close()


def test_the_simulator_counts_what_reaches_it(tmp_path: Path, sim: Sim) -> None:
    """The control for "nothing sent": the same kind of command, with good input, does reach the simulator."""
    a_journal(tmp_path)
    assert main(["kill", f"--journal={tmp_path / 'j.db'}", f"--venue-url={sim.url}"]) == 0
    assert sim.requests() > 0


def test_what_real_wallets_write_is_within_the_bounds() -> None:
    """eth-account's defaults (scrypt n = 2^18, r = 8, p = 1; PBKDF2 c = 10^6) and geth's "light" scrypt
    (n = 2^12, p = 6) pass the KDF bounds."""
    from eth_account import Account

    from trader.secrets import check_keystore

    key = bytes(range(1, 33))
    for kdf in ("scrypt", "pbkdf2"):
        check_keystore(json.dumps(Account.encrypt(key, "pw", kdf=kdf)))
    light = Account.encrypt(key, "pw", iterations=2**12)
    light["crypto"]["kdfparams"]["p"] = 6
    check_keystore(json.dumps(light))
