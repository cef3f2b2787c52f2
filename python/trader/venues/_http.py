"""The HTTP transport every REST connector uses: keep-alive connections (`_h11.Client`), timeouts, the
local rate limiter, and one classification of failures.

What the caller learns from a failed request decides what the engine may do next:

- the local limiter refused: `RateLimitError`, nothing was sent (a read first waits for its turn, up to
  `max_local_wait_s`: our own pacing, not a failure; an order does not wait: its price is of now);
- connection refused, DNS or TLS failure, connect timeout (`connect_timeout_s`), no free connection in
  time: `VenueUnavailableError`, nothing was sent (reads are retried first);
- timeout (`timeout_s`, the whole request), reset or disconnect after sending, a malformed answer, and
  HTTP 5xx: for a mutating request (an order, a cancel) `UnknownOutcomeError`: never resent, the engine
  asks the venue; reads are retried, then `VenueUnavailableError`;
- HTTP 429: `RateLimitError` with `retry_after_ns`; 418: `BannedError`, likewise. Either backs off the
  whole key (every request of this client, any quota, any priority, and the limiter's quotas) until
  Retry-After plus `retry_margin_s` (venues round it down; coming back early draws a 418), or
  `default_backoff_s` without one. What is refused meanwhile is a `RateLimitError` ("local back-off") or,
  after a 418, a `BannedError`; nothing is sent;
- any other non-2xx: the venue's decoded error (`decode_error`), else a definitive `VenueError`.

Query strings and bodies are sent byte for byte as given (they were signed). Error messages carry the
method, path, status and a short venue message, never headers, query strings or bodies.

Latency: connections are kept alive, with TCP_NODELAY on each. A request is built as one bytes object
and handed to the socket with one `transport.write` (no URL objects, header multidicts, tracing hooks or
request task); with an idle connection at hand that happens before the request's first `await`, so an
order sent with the engine's eager start is on the wire before control returns to the event loop. A
mutating request stamps the order's `WireProbe` (`trader.venues._wire`) in the same synchronous step as
that write. Answers are parsed as they arrive and wake the request once, when complete.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import partial

from trader import __version__
from trader.clock import Clock
from trader.core import RateLimiter
from trader.errors import (
    BannedError,
    RateLimitError,
    UnknownOutcomeError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues import _h11, _wire


@dataclass(frozen=True)
class HttpResponse:
    status: int
    headers: dict[str, str]  # lower-case names
    body: bytes
    latency_ns: int


class HttpClient:
    def __init__(
        self,
        venue: str,
        base_url: str,
        *,
        clock: Clock,
        timeout_s: float = 10.0,
        connect_timeout_s: float = 3.0,
        limiter: RateLimiter | None = None,
        quota: int | None = None,
        decode_error: Callable[[HttpResponse], VenueError | None] | None = None,
        on_response: Callable[[HttpResponse], None] | None = None,
        read_retries: int = 2,
        retry_backoff_s: float = 0.05,
        user_agent: str = f"trader/{__version__}",
        max_local_wait_s: float = 10.0,
        retry_margin_s: float = 1.0,
        default_backoff_s: float = 1.0,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self._conn = _h11.Client(
            self.base_url,
            user_agent=user_agent,
            timeout_s=timeout_s,
            connect_timeout_s=connect_timeout_s,
            limit=32,
            keepalive_timeout_s=30.0,
            ssl_context=ssl_context,
        )
        self._stamp = partial(_wire.stamp, clock)  # an order's bytes are handed to the socket now
        self._limiter = limiter
        self._quota = quota
        self._decode_error = decode_error
        self._on_response = on_response
        self._read_retries = read_retries
        self._backoff_s = retry_backoff_s
        self._max_wait_ns = int(max_local_wait_s * 1e9)
        self._margin_ns = int(retry_margin_s * 1e9)
        self._default_backoff_ns = int(default_backoff_s * 1e9)
        self._quotas: set[int] = {quota} if quota is not None else set()  # every quota charged
        self.backoff_until_ns = 0  # the venue told this key to back off until then (429, 418)
        self._banned = False  # ...and it was a ban

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        await self._conn.close()

    def set_quota(self, quota: int) -> None:
        """Charge requests to another quota of the limiter (the venue's published limits arrived)."""
        self._quota = quota
        self._quotas.add(quota)

    def usage(self, now_ns: int) -> list[tuple[int, int, int, int]]:
        """Per quota this client charges and per window: (quota id, interval_ns, used, limit). Monitoring."""
        if self._limiter is None:
            return []
        return [(q, *w) for q in sorted(self._quotas) for w in self._limiter.usage(q, now_ns)]

    async def _throttle(self, what: str, cost: int, priority: bool, mutating: bool) -> None:
        """Pass the key's back-off and the local limiter, or raise; a read waits for its turn."""
        now = self.clock.now_ns()
        if now < self.backoff_until_ns:
            kind = BannedError if self._banned else RateLimitError
            reason = "banned (418)" if self._banned else "HTTP 429"
            raise kind(
                f"{what}: local back-off after {reason}",
                venue=self.venue,
                code="local",
                retry_after_ns=self.backoff_until_ns,
            )
        if self._limiter is None or self._quota is None:
            return
        while (retry := self._limiter.try_acquire(self._quota, cost, now, priority)) is not None:
            if mutating or retry - now > self._max_wait_ns:
                raise RateLimitError(
                    f"{what}: local rate limit", venue=self.venue, code="local", retry_after_ns=retry
                )
            await self.clock.sleep((retry - now) / 1e9)
            now = self.clock.now_ns()

    def _back_off(self, resp: HttpResponse, banned: bool) -> int:
        """The venue said 429/418: back off the whole key until Retry-After plus the margin."""
        raw = resp.headers.get("retry-after", "").strip()
        now = self.clock.now_ns()
        at = now + (int(raw) * 1_000_000_000 + self._margin_ns if raw.isdigit() else self._default_backoff_ns)
        if at > self.backoff_until_ns:
            self.backoff_until_ns = at
            self._banned = banned
        elif banned:
            self._banned = True
        if self._limiter is not None:
            for quota in self._quotas:
                self._limiter.block_until(quota, self.backoff_until_ns)
        return self.backoff_until_ns

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        mutating: bool,
        cost: int = 1,
        priority: bool = False,
    ) -> HttpResponse:
        """Send one request; see the module docstring for what each failure raises."""
        what = f"{method} {path}"
        attempts = 1 if mutating else 1 + self._read_retries
        for attempt in range(attempts):
            last = attempt == attempts - 1
            await self._throttle(what, cost, priority, mutating)
            try:
                resp = await self._send(method, path, query, body, headers, mutating)
            except _h11.ConnectFailed as e:
                if last:
                    raise VenueUnavailableError(f"{what}: cannot connect ({e})", venue=self.venue) from None
            except (TimeoutError, _h11.Disconnected, _h11.Malformed) as e:
                if mutating:
                    raise UnknownOutcomeError(
                        f"{what}: no response ({type(e).__name__})", venue=self.venue
                    ) from None
                if last:
                    raise VenueUnavailableError(
                        f"{what}: no response ({type(e).__name__})", venue=self.venue
                    ) from None
            else:
                if self._on_response is not None:
                    self._on_response(resp)
                if 200 <= resp.status < 300:
                    return resp
                err = self._classify(what, resp, mutating)
                if not (resp.status >= 500 and not mutating and not last):
                    raise err
            await self.clock.sleep(self._backoff_s * 2**attempt)
        raise AssertionError("unreachable")  # pragma: no cover

    def encode(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> bytes:
        """The bytes `request` would write for this request, without sending them (a connector's
        rehearsal of an order, `trader.venues.base.Rehearses`)."""
        return self._conn.encode(method, path, query, headers, body)

    async def _send(
        self,
        method: str,
        path: str,
        query: str,
        body: bytes | None,
        headers: Mapping[str, str] | None,
        mutating: bool = False,
    ) -> HttpResponse:
        t0 = self.clock.monotonic_ns()
        status, hdrs, data = await self._conn.request(
            method,
            path,
            query,
            headers,
            body,
            on_wire=self._stamp if mutating else None,
            retry_stale=not mutating,
        )
        return HttpResponse(status, hdrs, data, self.clock.monotonic_ns() - t0)

    def _classify(self, what: str, resp: HttpResponse, mutating: bool) -> VenueError:
        status = resp.status
        retry = self._back_off(resp, banned=status == 418) if status in (418, 429) else None
        err = status_error(self.venue, what, status, mutating=mutating, retry_after_ns=retry)
        if err is not None:
            return err
        decoded = self._decode_error(resp) if self._decode_error is not None else None
        if decoded is not None:
            return decoded
        snippet = resp.body[:160].decode("utf-8", "replace")
        return VenueError(f"{what}: HTTP {status}: {snippet}", venue=self.venue, code=str(status))


def status_error(
    venue: str,
    what: str,
    status: int,
    *,
    mutating: bool,
    retry_after_ns: int | None = None,
    transport: str = "HTTP",
) -> VenueError | None:
    """The one reading of a ban, a rate limit and a server error, for HTTP answers and for WebSocket API
    answers that carry an HTTP-like status: 418 `BannedError`, 429 `RateLimitError` (both with
    `retry_after_ns`), 5xx `UnknownOutcomeError` for a mutating request (it may have been executed), else
    `VenueUnavailableError`. None for any other status: the venue's error body decides."""
    if status == 418:
        return BannedError(f"{what}: banned (418)", venue=venue, code="418", retry_after_ns=retry_after_ns)
    if status == 429:
        return RateLimitError(
            f"{what}: too many requests (429)", venue=venue, code="429", retry_after_ns=retry_after_ns
        )
    if status >= 500:
        if mutating:
            return UnknownOutcomeError(
                f"{what}: {transport} {status}, outcome unknown", venue=venue, code=str(status)
            )
        return VenueUnavailableError(f"{what}: {transport} {status}", venue=venue, code=str(status))
    return None
