"""The HTTP transport every REST connector uses: one keep-alive aiohttp session, timeouts, the local
rate limiter, and one classification of failures.

What the caller learns from a failed request decides what the engine may do next:

- the local limiter refused: `RateLimitError`, nothing was sent;
- connection refused, DNS failure, connect timeout: `VenueUnavailableError`, nothing was sent (reads are
  retried first);
- read timeout, reset or disconnect after sending, and HTTP 5xx: for a mutating request (an order, a
  cancel) `UnknownOutcomeError`: never resent, the engine asks the venue; reads are retried, then
  `VenueUnavailableError`;
- HTTP 429: `RateLimitError` with `retry_after_ns`, and the limiter blocks until then; 418: `BannedError`,
  likewise;
- any other non-2xx: the venue's decoded error (`decode_error`), else a definitive `VenueError`.

Query strings and bodies are sent byte for byte as given (they were signed). Error messages carry the
method, path, status and a short venue message, never headers, query strings or bodies.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import aiohttp
from yarl import URL

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
    ) -> None:
        self.venue = venue
        self.base_url = base_url.rstrip("/")
        self.clock = clock
        self._timeout = aiohttp.ClientTimeout(total=timeout_s, sock_connect=connect_timeout_s)
        self._limiter = limiter
        self._quota = quota
        self._decode_error = decode_error
        self._on_response = on_response
        self._read_retries = read_retries
        self._backoff_s = retry_backoff_s
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> HttpClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(limit=32, ttl_dns_cache=300, keepalive_timeout=30)
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=self._timeout, headers={"User-Agent": self._user_agent}
            )
        return self._session

    def set_quota(self, quota: int) -> None:
        """Charge requests to another quota of the limiter (the venue's published limits arrived)."""
        self._quota = quota

    def _throttle(self, cost: int, priority: bool) -> None:
        if self._limiter is None or self._quota is None:
            return
        retry = self._limiter.try_acquire(self._quota, cost, self.clock.now_ns(), priority)
        if retry is not None:
            raise RateLimitError("local rate limit", venue=self.venue, code="local", retry_after_ns=retry)

    def _retry_after_ns(self, resp: HttpResponse) -> int | None:
        raw = resp.headers.get("retry-after", "")
        if not raw.isdigit():
            return None
        at = self.clock.now_ns() + int(raw) * 1_000_000_000
        if self._limiter is not None and self._quota is not None:
            self._limiter.block_until(self._quota, at)
        return at

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
            self._throttle(cost, priority)
            try:
                resp = await self._send(method, path, query, body, headers)
            except (aiohttp.ClientConnectorError, aiohttp.ClientConnectorDNSError) as e:
                if last:
                    raise VenueUnavailableError(
                        f"{what}: cannot connect ({type(e).__name__})", venue=self.venue
                    ) from None
            except (
                TimeoutError,
                aiohttp.ServerDisconnectedError,
                aiohttp.ClientOSError,
                aiohttp.ClientPayloadError,
            ) as e:
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

    async def _send(
        self, method: str, path: str, query: str, body: bytes | None, headers: Mapping[str, str] | None
    ) -> HttpResponse:
        url = URL(f"{self.base_url}{path}" + (f"?{query}" if query else ""), encoded=True)
        t0 = self.clock.monotonic_ns()
        async with self._client().request(method, url, data=body, headers=headers) as r:
            data = await r.read()
            return HttpResponse(
                r.status, {k.lower(): v for k, v in r.headers.items()}, data, self.clock.monotonic_ns() - t0
            )

    def _classify(self, what: str, resp: HttpResponse, mutating: bool) -> VenueError:
        status = resp.status
        retry = self._retry_after_ns(resp) if status in (418, 429) else None
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
