"""Time as Alpaca writes it (RFC 3339 with nanoseconds) and the US/Eastern session calendar, computed
without a time-zone database (weekdays, no holidays): pre-market 04:00-09:30, regular 09:30-16:00,
after-hours 16:00-20:00."""

from __future__ import annotations

import calendar
import time

NS = 1_000_000_000


def rfc3339(ns: int) -> str:
    """UTC with nanoseconds, as Alpaca writes times: 2024-01-05T15:41:22.123456789Z."""
    sec, nsec = divmod(ns, NS)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{nsec:09d}Z"


def parse_rfc3339(text: str) -> int:
    """RFC 3339 (or a bare date) to nanoseconds since the epoch; `ValueError` if malformed."""
    s = text.strip()
    if len(s) == 10:
        s += "T00:00:00Z"
    if len(s) < 20 or s[10] not in "Tt ":
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    try:
        base = calendar.timegm(time.strptime(s[:19], "%Y-%m-%dT%H:%M:%S"))
    except ValueError:
        raise ValueError(f"not an RFC 3339 time: {text!r}") from None
    rest, frac = s[19:], 0
    if rest.startswith("."):
        digits = len(rest) - len(rest[1:].lstrip("0123456789"))
        frac_text = rest[1:digits]
        if not frac_text:
            raise ValueError(f"not an RFC 3339 time: {text!r}")
        frac, rest = int(frac_text[:9].ljust(9, "0")), rest[digits:]
    if rest in ("Z", "z"):
        offset = 0
    elif len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and rest[1:3].isdigit() and rest[4:].isdigit():
        offset = (int(rest[1:3]) * 3600 + int(rest[4:]) * 60) * (1 if rest[0] == "+" else -1)
    else:
        raise ValueError(f"not an RFC 3339 time: {text!r}")
    return (base - offset) * NS + frac


def _nth_sunday(year: int, month: int, n: int) -> int:
    """Midnight UTC (seconds) of the n-th Sunday of a month."""
    first = calendar.timegm((year, month, 1, 0, 0, 0))
    weekday = time.gmtime(first).tm_wday  # Monday = 0
    return first + (((6 - weekday) % 7) + 7 * (n - 1)) * 86400


def eastern_offset_s(utc_s: int) -> int:
    """US/Eastern's UTC offset at a UTC instant: EDT from the second Sunday of March 02:00 EST to the first
    Sunday of November 02:00 EDT (the rule since 2007), else EST."""
    year = time.gmtime(utc_s).tm_year
    start = _nth_sunday(year, 3, 2) + 7 * 3600
    end = _nth_sunday(year, 11, 1) + 6 * 3600
    return -4 * 3600 if start <= utc_s < end else -5 * 3600


def eastern_ns(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> int:
    """A wall time in New York as nanoseconds since the epoch."""
    local = calendar.timegm((year, month, day, hour, minute, 0))
    return (local - eastern_offset_s(local + 5 * 3600)) * NS


def eastern_iso(ns: int) -> str:
    """New York local time with its offset, as `/v2/clock` writes it."""
    sec, nsec = divmod(ns, NS)
    off = eastern_offset_s(sec)
    sign, a = ("-", -off) if off < 0 else ("+", off)
    return (
        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec + off))
        + f".{nsec:09d}{sign}{a // 3600:02d}:{a % 3600 // 60:02d}"
    )


def session(ns: int) -> str:
    """`pre`, `regular`, `post` or `closed` at an instant."""
    sec = ns // NS
    local = time.gmtime(sec + eastern_offset_s(sec))
    if local.tm_wday >= 5:
        return "closed"
    minute = local.tm_hour * 60 + local.tm_min
    if 240 <= minute < 570:
        return "pre"
    if 570 <= minute < 960:
        return "regular"
    if 960 <= minute < 1200:
        return "post"
    return "closed"


def next_session_time(ns: int, hour: int, minute: int) -> int:
    """The first weekday `hour:minute` in New York strictly after `ns`."""
    sec = ns // NS
    local = time.gmtime(sec + eastern_offset_s(sec))
    for d in range(8):
        day = time.gmtime(calendar.timegm((local.tm_year, local.tm_mon, local.tm_mday, 12, 0, 0)) + d * 86400)
        if day.tm_wday >= 5:
            continue
        t = eastern_ns(day.tm_year, day.tm_mon, day.tm_mday, hour, minute)
        if t > ns:
            return t
    raise AssertionError("unreachable: a weekday comes within 8 days")  # pragma: no cover
