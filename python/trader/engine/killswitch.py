"""The kill switch from outside the engine's process: a wake-up, a durable latch, and an audited reset.

- While `Engine.run` runs, the engine records its process in the journal (meta `engine_pid`: the pid and
  the process's start time, so a pid the kernel reused for another program is never signalled) and handles
  SIGUSR1: the gate goes HALTED inside the signal's callback, before anything is awaited, then every order
  is canceled. The timer's poll of the journal's `kill` counter stays as the fallback (no signal support,
  a pid that cannot be verified).
- `trader kill --journal J` bumps the durable `kill` counter first (latched: a later start begins
  HALTED), then signals the recorded engine if it is still the process that recorded itself.
- A reset (`trader kill --reset`) needs proof, not just a name: the reset token the engine wrote next to
  its journal at start (`<journal>.reset-token`, mode 0600; the journal keeps only its SHA-256), or the
  configured credentials (checked by the CLI). Every kill and reset is audited in the journal's meta
  (`audit:<n>`: action, who, when, how).
"""

from __future__ import annotations

import contextlib
import getpass
import hashlib
import hmac
import json
import logging
import os
import secrets
import signal
import socket
from collections.abc import Callable
from pathlib import Path

from trader.engine.journal import Journal

log = logging.getLogger("trader.engine")

KILL_SIGNAL = getattr(signal, "SIGUSR1", None)  # None on Windows: the timer's poll is the only path
TOKEN_SUFFIX = ".reset-token"  # noqa: S105 - a file name suffix, not a secret


def process_identity(pid: int) -> str | None:
    """The process's start time (clock ticks since boot, from /proc), or None when unknown (no such
    process, no /proc). Together with the pid it names one process: pids are reused, start times not."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # after the command name, which may hold spaces
    return fields[19] if len(fields) > 19 else None  # field 22 of the line: starttime


def arm(journal: Journal, on_kill: Callable[[], None]) -> Callable[[], None]:
    """Handle SIGUSR1 with `on_kill` in the running event loop and record this process in the journal.
    Returns the disarm function. Without signal support (Windows, not the main thread) nothing is recorded
    and the engine's timer poll remains the kill path."""
    import asyncio

    loop = asyncio.get_running_loop()
    identity = process_identity(os.getpid())
    if KILL_SIGNAL is None or identity is None:
        return lambda: None
    try:
        loop.add_signal_handler(KILL_SIGNAL, on_kill)
    except (RuntimeError, ValueError, NotImplementedError):
        return lambda: None
    me = f"{os.getpid()}:{identity}"
    journal.set_meta("engine_pid", me)

    def disarm() -> None:
        loop.remove_signal_handler(KILL_SIGNAL)
        with contextlib.suppress(Exception):  # the journal may be closed already
            if journal.get_meta("engine_pid") == me:
                journal.set_meta("engine_pid", "")

    return disarm


def signal_engine(journal: Journal) -> int | None:
    """Send SIGUSR1 to the engine recorded in the journal if that very process still runs; its pid, or
    None (no engine recorded, it exited, or the pid now belongs to another process)."""
    recorded = journal.get_meta("engine_pid") or ""
    pid_text, _, identity = recorded.partition(":")
    if KILL_SIGNAL is None or not pid_text.isdigit() or not identity:
        return None
    pid = int(pid_text)
    if process_identity(pid) != identity:
        return None
    try:
        os.kill(pid, KILL_SIGNAL)
    except OSError:  # exited meanwhile, or not ours to signal
        return None
    return pid


def token_path(journal: Journal) -> Path | None:
    return None if journal.path is None else journal.path.with_name(journal.path.name + TOKEN_SUFFIX)


def write_reset_token(journal: Journal) -> Path | None:
    """A fresh random reset token in `<journal>.reset-token` (0600); the journal keeps its SHA-256.
    None for an in-memory journal (nothing outlives the process, nothing to reset)."""
    path = token_path(journal)
    if path is None:
        return None
    token = secrets.token_urlsafe(32)
    try:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(token + "\n")
    except OSError as e:
        log.warning("no reset token written (%s): a reset will need the config's credentials", e.strerror)
        return None
    journal.set_meta("reset_token_sha256", _digest(token))
    return path


def token_matches(journal: Journal, token: str) -> bool:
    stored = journal.get_meta("reset_token_sha256")
    return stored is not None and hmac.compare_digest(stored, _digest(token.strip()))


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def audit(journal: Journal, action: str, now_ns: int, **detail: object) -> int:
    """Append one audit record (who ran it, from where, when) to the journal; its number."""
    n = journal.next_value("audit")
    record = {
        "action": action,
        "at_ns": now_ns,
        "user": _user(),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        **detail,
    }
    journal.set_meta(f"audit:{n}", json.dumps(record, sort_keys=True, separators=(",", ":")))
    return n


def audit_log(journal: Journal) -> list[dict[str, object]]:
    out = []
    for n in range(1, journal.get_counter("audit") + 1):
        raw = journal.get_meta(f"audit:{n}")
        if raw is not None:
            out.append(json.loads(raw))
    return out


def _user() -> str:
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}" if hasattr(os, "getuid") else "unknown"
