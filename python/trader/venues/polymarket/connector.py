"""Polymarket CLOB V2 (pUSD collateral): one binary market, both of its outcome tokens, one wallet.

Protocol facts are in ../shared/venues/polymarket.md (§0 and §11: production runs CLOB V2 since
2026-04-28); py-clob-client-v2 1.2.1 is the reference for paths, headers and JSON. The loopback simulator
`trader.sim.polymarket` speaks the same protocol.

- Instruments: `"<condition_id>:YES"` and `"<condition_id>:NO"`, YES being the first token `/clob-markets`
  lists (`t[0]`) and NO the second, whatever the outcomes are called. The token ids are accepted as
  aliases wherever an instrument is expected; events and reports always carry the `:YES`/`:NO` symbol.
  Both kinds of market trade (markets.py): CTF markets (token ids; CTF or Neg Risk Exchange V2, domain
  "2"; `CONDITIONAL`) and Protocol V2 markets (position ids; ExchangeV3, domain "3"; `CONDITIONAL-V2`).
- Units: prices in integer units of `price_unit` (by default the market's tick at connect, e.g. 0.01),
  quantities in micro-shares (0.000001, the outcome token's own decimals: marketable buys and the fills
  they cause are not whole 0.01 lots), orders in 0.01-share lots. Collateral amounts are Decimal pUSD.
- Connect: `GET /version` must say 2 (else `ProtocolVersionError`); L1 (EIP-712 `ClobAuth`) create, else
  derive, the API key; the secret and passphrase go straight into the Rust signer (`set_api_creds`) and
  are not kept in Python. Every private call carries L2 (HMAC) headers made by the signer. The user
  channel, which wants the secret in its subscribe frame, re-derives the key by L1 on every (re)connect
  and builds the frame in a local variable; websockets' frame logging is redacted for it.
- Orders: the signer builds and signs the V2 order and the `POST /order` body (signing.py, which
  `rehearse` shares: the request built, nothing sent or recorded). GTC (post-only from the
  approval), GTD (expiration = expiry + the venue's 60 s threshold), IOC -> FAK, FOK -> FOK; market
  orders are FAK (FOK with tif FOK) at the approval's protective price. Note the venue's rule for
  marketable BUYs: a FAK/FOK BUY spends its whole collateral amount (qty x price), so when the book is
  better than the price it buys MORE than qty shares; the fills say how many.
- Polymarket has no client order id. The order id is the EIP-712 hash of the signed order, known before
  the request leaves: `client_id -> order id` is recorded first (in memory, and appended to `order_log`
  when configured, so another process can resolve it) and `SubmitAck.venue_order_id` carries it. A
  timeout or 5xx raises `UnknownOutcomeError`; `query(client_id)` then asks the venue for that id.
  Nothing is ever resent. `submit_batch` posts up to 15 orders at once (`POST /orders`). `cancel_all`
  cancels this market's orders (`DELETE /cancel-market-orders`, optionally one token), `cancel_account`
  every order of the API key (`DELETE /cancel-all`), `cancel_many` a list (`DELETE /orders`).
- Funds: before an order is sent, the collateral (BUY) or token (SELL) balance and allowance from
  `/balance-allowance`, minus what our resting orders hold, must cover it (else
  `InsufficientFundsError`, nothing sent). `chain_balance()` reads the same from Polygon (eth_call).
- Dead-man switch: heartbeats (`POST /v1/heartbeats`) are sent before the first order and every
  `heartbeat_interval_s` while our orders rest or are unresolved. When a heartbeat fails, submissions
  are refused (`HeartbeatFailedError`, nothing sent) until one succeeds; cancels and queries still work.
- Streams (streams.py): the market channel's books (resynced from REST), the user channel's orders and
  fills attributed to OUR order (a YES buy matched against a NO buy is a mint, reported as that YES buy).
- Rate limits: polymarket.md §10 per route, at `budget` (80 %) of the published values, sliding windows;
  every request is also charged to the CLOB-wide quota (Gamma's to Gamma's). 429 honours Retry-After.
- Metadata: Gamma, cross-checked against the CLOB market (gamma.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import OrderedDict
from collections.abc import AsyncIterator, Coroutine, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson

from trader.clock import Clock
from trader.core import (
    Approval,
    Book,
    InstrumentSpec,
    Keystore,
    PolymarketSigner,
    RateLimiter,
    Window,
)
from trader.errors import (
    AuthenticationError,
    ConfigError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
    VenueError,
)
from trader.venues._events import EventQueue
from trader.venues._http import HttpClient
from trader.venues._status import StreamHealth
from trader.venues._ws import WsClient
from trader.venues.base import (
    FillReport,
    FundingPayment,
    InstrumentInfo,
    OrderReport,
    OrderState,
    SubmitAck,
    VenueEvent,
    require_approval,
)
from trader.venues.polymarket import chain, funds, gamma, parse, signing, streams
from trader.venues.polymarket.chain import ChainBalance
from trader.venues.polymarket.endpoints import (
    END_CURSOR,
    ENDPOINTS,
    EXCHANGE,
    EXCHANGE_V3,
    LOT,
    MAX_BATCH,
    MICRO,
    NEG_RISK_EXCHANGE,
    RATE_LIMITS,
    START_CURSOR,
    Endpoints,
    capabilities,
)
from trader.venues.polymarket.errors import (
    MetadataMismatchError,
    ProtocolVersionError,
    decode_error,
)
from trader.venues.polymarket.heartbeat import Heartbeat
from trader.venues.polymarket.markets import exchange_version
from trader.venues.polymarket.orders import Order, OrderLog, apply_post_result
from trader.venues.polymarket.parse import MarketMetadata, norm
from trader.venues.polymarket.streams import Phase
from trader.venues.profile import VenueTime

log = logging.getLogger("trader.venues.polymarket")


class PolymarketConnector:
    """One binary market (its YES and NO tokens) on the Polymarket CLOB V2, for one wallet."""

    def __init__(
        self,
        *,
        condition_id: str,
        private_key: str | Keystore,
        clock: Clock,
        endpoints: Endpoints = ENDPOINTS["live"],
        chain_id: int = 137,
        signature_type: int = 0,
        funder: str | None = None,
        api_nonce: int = 0,
        venue: str = "polymarket",
        price_unit: str | None = None,
        order_log: str | Path | None = None,
        fsync: bool = True,
        timeout_s: float = 10.0,
        budget: float = 0.8,
        rate_limits: dict[str, list[tuple[int, float]]] | None = None,
        heartbeat_interval_s: float = 5.0,
        heartbeat_timeout_s: float = 10.0,
        balance_ttl_s: float = 1.0,
        ping_interval_s: float = 10.0,
        stale_after_s: float = 30.0,
        ready_timeout_s: float = 5.0,
        check_metadata: bool = True,
    ) -> None:
        if not 0 < budget <= 1:
            raise ValueError("budget must be in (0, 1]")
        if heartbeat_interval_s <= 0 or heartbeat_interval_s >= heartbeat_timeout_s:
            raise ValueError("heartbeat_interval_s must be > 0 and below heartbeat_timeout_s")
        self.venue = venue
        self.capabilities = capabilities(venue)
        self.condition_id = condition_id
        self.clock = clock
        self.endpoints = endpoints
        self._signer = PolymarketSigner(
            private_key, chain_id=chain_id, signature_type=signature_type, funder=funder
        )
        self._signature_type, self._chain_id = signature_type, chain_id
        self._api_nonce = api_nonce
        self._price_unit = price_unit
        self._timeout_s = timeout_s
        self._balance_ttl_ns = int(balance_ttl_s * 1e9)
        # keep-alive, stale feed, and how long connect() waits for both channels
        self._ping_interval_s, self._stale_after_s = ping_interval_s, stale_after_s
        self._ready_timeout_s = ready_timeout_s
        self._limiter = RateLimiter()
        self._quotas = self._add_quotas(rate_limits or RATE_LIMITS, budget)
        self._http, self._rpc, self._gamma = self._clients_for(endpoints, timeout_s)
        self._check_metadata = check_metadata
        self._metadata: MarketMetadata | None = None
        self._offset_s = 0
        self._api_key = ""  # the key id (it is also the `owner` of every order); no secret is kept
        self._init_market(condition_id)
        # orders
        self._order_log = OrderLog(order_log, fsync=fsync) if order_log is not None else None
        recorded = self._order_log.load(venue) if self._order_log is not None else []
        self._orders: dict[str, Order] = {o.order_id: o for o in recorded}  # order id -> order
        self._by_client: dict[str, str] = {o.client_id: o.order_id for o in recorded}  # client id -> order id
        self._seen_fills: OrderedDict[str, None] = OrderedDict()
        self._last_fill_ns = 0
        self._balances: dict[str, funds.Balance] = {}
        self._inflight = 0
        self._hb = Heartbeat(
            venue, clock, self._send_heartbeat, interval_s=heartbeat_interval_s, timeout_s=heartbeat_timeout_s
        )
        # plumbing
        self._queue: EventQueue[VenueEvent] = EventQueue()
        self._health = StreamHealth(self._queue, clock)
        self._tasks: list[asyncio.Task[None]] = []
        self._spawned: set[asyncio.Task[None]] = set()
        self._clients: list[WsClient] = []
        self._market_ready, self._user_ready = asyncio.Event(), asyncio.Event()
        self._await_pong = False

    def _init_market(self, condition_id: str) -> None:
        """The market's state before connect: symbols, no tokens or rules yet, no books."""
        self.symbols: tuple[str, str] = (f"{condition_id}:YES", f"{condition_id}:NO")
        self._tokens: dict[str, str] = {}  # symbol -> token id
        self._symbol_of: dict[str, str] = {}  # token id -> symbol
        self._tick = ""
        self._neg_risk = False
        self._version = 2  # the exchange's EIP-712 domain version: 2 (CTF market) or 3 (Protocol V2)
        self._min_size = "0"
        self._closed = False
        self.spec: InstrumentSpec | None = None
        self.books: dict[str, Book] = {}  # symbol -> book
        self._phase: dict[str, Phase] = {}
        self._buffer: dict[str, list[tuple[str, bytes]]] = {}

    def _add_quotas(self, rate_limits: dict[str, list[tuple[int, float]]], budget: float) -> dict[str, int]:
        """Every route's sliding windows at `budget` of the published values."""
        quotas: dict[str, int] = {}
        for route, windows in rate_limits.items():
            limits = [(max(1, int(n * budget)), int(sec * 1e9)) for n, sec in windows]
            reserve = route == "general"  # room for cancels and heartbeats when orders used the rest
            quotas[route] = self._limiter.add_quota(
                route, [Window(n, ns, rolling=True, reserve=n // 20 if reserve else 0) for n, ns in limits]
            )
        return quotas

    def _clients_for(
        self, endpoints: Endpoints, timeout_s: float
    ) -> tuple[HttpClient, HttpClient | None, HttpClient | None]:
        """The CLOB's HTTP client, Polygon JSON-RPC's and Gamma's (each None without its endpoint)."""
        venue, clock = self.venue, self.clock
        http = HttpClient(
            venue,
            endpoints.rest,
            clock=clock,
            timeout_s=timeout_s,
            limiter=self._limiter,
            quota=self._quotas.get("general"),
            decode_error=lambda r: decode_error(venue, r),
        )
        rpc = HttpClient(venue, endpoints.rpc, clock=clock, timeout_s=timeout_s) if endpoints.rpc else None
        gamma = (
            HttpClient(
                venue, endpoints.gamma, clock=clock, timeout_s=timeout_s, limiter=self._limiter,
                quota=self._quotas.get("gamma"),
            )
            if endpoints.gamma
            else None
        )  # fmt: skip
        return http, rpc, gamma

    # ---- plumbing --------------------------------------------------------------------------------

    @property
    def clock_offset_ms(self) -> int:
        """The venue's clock minus ours, as measured at connect (`GET /time`, whole seconds)."""
        return self._offset_s * 1000

    def _now_s(self) -> int:
        return self.clock.now_ns() // 1_000_000_000 + self._offset_s

    def _acquire(self, route: str, priority: bool = False) -> None:
        quota = self._quotas.get(route)
        if quota is None:
            return
        retry = self._limiter.try_acquire(quota, 1, self.clock.now_ns(), priority)
        if retry is not None:
            raise RateLimitError(
                f"{route}: local rate limit", venue=self.venue, code="local", retry_after_ns=retry
            )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task: asyncio.Task[None] = asyncio.get_running_loop().create_task(coro)
        self._spawned.add(task)
        task.add_done_callback(self._spawned.discard)

    async def _public(
        self, path: str, query: dict[str, Any] | None = None, *, route: str | None = None
    ) -> Any:
        self._acquire(route or f"GET {path}")
        resp = await self._http.request("GET", path, query=urlencode(query or {}), mutating=False)
        return orjson.loads(resp.body)

    async def _public_raw(self, path: str, query: dict[str, Any] | None = None) -> bytes:
        self._acquire(f"GET {path}")
        resp = await self._http.request("GET", path, query=urlencode(query or {}), mutating=False)
        return resp.body

    async def venue_time(self) -> VenueTime:
        """The CLOB's clock (`GET /time`, whole seconds)."""
        ts_s = int(await self._public("/time"))
        return VenueTime(ts_s * 1_000_000_000, 1_000_000_000)

    async def _private(
        self,
        method: str,
        path: str,
        *,
        query: dict[str, Any] | None = None,
        body: bytes | None = None,
        mutating: bool,
        route: str | None = None,
        priority: bool = False,
    ) -> Any:
        self._acquire(route or f"{method} {path}", priority)
        headers = signing.l2_headers(self, method, path, body)
        resp = await self._http.request(
            method,
            path,
            query=urlencode(query or {}),
            body=body,
            headers=headers,
            mutating=mutating,
            priority=priority,
        )
        return orjson.loads(resp.body) if resp.body.strip() else None

    async def _paged(self, path: str, query: dict[str, Any]) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        cursor = START_CURSOR
        while cursor != END_CURSOR:
            page = await self._private("GET", path, query={**query, "next_cursor": cursor}, mutating=False)
            out.extend(page.get("data") or [])
            cursor = str(page.get("next_cursor") or END_CURSOR)
        return out

    # ---- lifecycle -------------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._tasks:
            return  # connected already: a second connect does nothing (the contract)
        version = await self._public("/version")
        v = version.get("version") if isinstance(version, dict) else None
        if v != 2:
            raise ProtocolVersionError(
                f"the CLOB reports protocol version {v!r}; this connector signs V2 orders only",
                venue=self.venue,
            )
        with contextlib.suppress(VenueError, ValueError, TypeError):
            self._offset_s = int(await self._public("/time")) - self.clock.now_ns() // 1_000_000_000
        await self._api_creds()
        await self._load_market()
        if self._check_metadata and self._gamma is not None:
            try:
                await self.metadata()
            except MetadataMismatchError:
                raise
            except VenueError as e:
                log.warning("%s: no Gamma metadata at connect (%s); metadata() may be retried", self.venue, e)
        ws_logger = logging.getLogger("websockets.client")
        if streams.REDACT not in ws_logger.filters:
            ws_logger.addFilter(streams.REDACT)
        loop = asyncio.get_running_loop()
        self._tasks = [
            loop.create_task(streams.market_loop(self)),
            loop.create_task(streams.user_loop(self)),
            loop.create_task(self._hb.loop(self._needs_heartbeat)),
        ]
        try:
            await self.clock.wait_for(
                asyncio.gather(self._market_ready.wait(), self._user_ready.wait()), self._ready_timeout_s
            )
        except TimeoutError:
            log.warning("%s: streams not ready after %.1f s; continuing", self.venue, self._ready_timeout_s)

    async def _l1(self, method: str, path: str) -> dict[str, Any]:
        self._acquire("auth")
        headers = dict(self._signer.l1_headers(self._now_s(), self._api_nonce))
        resp = await self._http.request(method, path, headers=headers, mutating=False)
        body = orjson.loads(resp.body)
        if not isinstance(body, dict) or not body.get("apiKey"):
            raise AuthenticationError(f"{method} {path}: no API key in the answer", venue=self.venue)
        return body

    async def _api_creds(self) -> None:
        """L1: create the API key, or derive it when it exists; the secrets go into the signer only."""
        try:
            creds = await self._l1("POST", "/auth/api-key")
        except VenueError as e:
            log.info("%s: creating the API key failed (%s); deriving it", self.venue, type(e).__name__)
            creds = await self._l1("GET", "/auth/derive-api-key")
        self._signer.set_api_creds(str(creds["apiKey"]), str(creds["secret"]), str(creds["passphrase"]))
        self._api_key = str(creds["apiKey"])
        del creds

    async def _load_market(self) -> None:
        info = await self._public(f"/clob-markets/{self.condition_id}", route="GET /clob-markets")
        market = await self._public(f"/markets/{self.condition_id}", route="GET /markets")
        tokens = [str(t["t"]) for t in info.get("t") or [] if t]
        if len(tokens) != 2:
            raise InvalidOrderError(
                f"market {self.condition_id} is not a binary market ({len(tokens)} tokens)", venue=self.venue
            )
        self._tokens = dict(zip(self.symbols, tokens, strict=True))
        self._symbol_of = {t: s for s, t in self._tokens.items()}
        self._version = exchange_version(tokens[0])  # 3: a Protocol V2 market (position ids)
        self._tick = norm(info.get("mts") or market.get("minimum_tick_size"))
        self._neg_risk = bool(info.get("nr", market.get("neg_risk", False)))
        self._min_size = norm(market.get("minimum_order_size", info.get("mos", 0)) or 0)
        self._closed = bool(market.get("closed")) or market.get("accepting_orders") is False
        self.spec = InstrumentSpec(
            self._tick,
            LOT,
            min_qty=self._min_size,
            price_unit=self._price_unit or self._tick,
            qty_unit=f"{MICRO:f}",
        )
        for s in self.symbols:
            self.books[s] = Book(self.spec)
            self._phase[s] = Phase.WAITING

    async def close(self) -> None:
        for c in self._clients:
            await c.close()
        tasks = [*self._tasks, *self._spawned]
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        await self._http.close()
        if self._rpc is not None:
            await self._rpc.close()
        if self._gamma is not None:
            await self._gamma.close()
        if self._order_log is not None:
            self._order_log.close()

    # ---- metadata (Gamma) ------------------------------------------------------------------------

    @property
    def market_metadata(self) -> MarketMetadata | None:
        """The last metadata `metadata()` fetched and cross-checked (None before the first success)."""
        return self._metadata

    async def metadata(self) -> MarketMetadata:
        """This market's metadata from Gamma, cross-checked against the CLOB market being traded (token
        ids in order, tick, neg risk: `MetadataMismatchError`). Needs `connect()` first (gamma.py)."""
        return await gamma.metadata(self)

    # ---- instruments -----------------------------------------------------------------------------

    def trading_spec(self) -> InstrumentSpec:
        if self.spec is None:
            raise VenueError("not connected", venue=self.venue)
        return self.spec

    def _resolve(self, instrument: str) -> tuple[str, str]:
        """(symbol, token id) of a `:YES`/`:NO` symbol or a token id of this market."""
        if instrument in self._tokens:
            return instrument, self._tokens[instrument]
        if instrument in self._symbol_of:
            return self._symbol_of[instrument], instrument
        raise InvalidOrderError(f"unknown instrument {instrument}", venue=self.venue)

    def token_id(self, instrument: str) -> str:
        return self._resolve(instrument)[1]

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        sym, token = self._resolve(symbol)
        return parse.instrument_info(self.trading_spec(), sym, token, self._tick, self._min_size)

    @property
    def neg_risk(self) -> bool:
        return self._neg_risk

    @property
    def exchange(self) -> str:
        """The market's exchange: ExchangeV3 for a Protocol V2 market, else the CTF or Neg Risk one."""
        return EXCHANGE_V3 if self._version == 3 else NEG_RISK_EXCHANGE if self._neg_risk else EXCHANGE

    @property
    def protocol_v2(self) -> bool:
        """A Protocol V2 market (position ids, ExchangeV3, asset type CONDITIONAL-V2)."""
        return self._version == 3

    @property
    def address(self) -> str:
        return self._signer.address

    @property
    def funder(self) -> str:
        return self._signer.funder

    @property
    def heartbeat_ok(self) -> bool:
        return not self._hb.failed

    def order_id(self, client_id: str) -> str | None:
        """The venue order id (the order's EIP-712 hash) recorded for a client order id."""
        return self._by_client.get(client_id)

    # ---- the client id map -----------------------------------------------------------------------

    def _record(self, o: Order) -> None:
        """Remember client id -> order id before the order is sent (durably with `order_log`)."""
        self._orders[o.order_id] = o
        self._by_client[o.client_id] = o.order_id
        if self._order_log is not None:
            self._order_log.append(o)

    def _client_of(self, order_id: str) -> str:
        o = self._orders.get(order_id)
        return o.client_id if o is not None else order_id  # not ours from this map: the id itself

    # ---- orders ----------------------------------------------------------------------------------

    def _sign(self, a: Approval, client_id: str, instrument: str) -> signing.Signed:
        """Check and sign one approved order for `submit` (its client id not used before). Nothing is
        sent or recorded."""
        return signing.sign(self, require_approval(a), client_id, instrument, self._by_client)

    def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
        """`submit` up to the socket without its effects (`trader.venues.base.Rehearses`): the order
        checked and signed (EIP-712, a fresh salt) and its `POST /order` body, L2 headers and request
        bytes, built by the functions `submit` uses (signing.py) and dropped. The size of the request.

        Left out, being effects or I/O: the heartbeat (its state and arming), the funds check (a
        `/balance-allowance` read), the rate limit (no quota used), the client-id map (nothing recorded,
        and the id is not checked for reuse: the engine rehearses the order it last sent)."""
        signed = signing.sign(self, require_approval(approval), client_id, instrument, ())
        body, headers = signing.order_request(self, signed)
        return len(self._http.encode("POST", "/order", body=body, headers=headers))

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        signed = self._sign(approval, client_id, instrument)
        tracked = signed.tracked
        self._hb.refuse_if_failing()
        await funds.check_funds(self, [tracked], [signed.order])
        await self._hb.arm()
        self._acquire("POST /order")
        body, headers = signing.order_request(self, signed)
        self._record(tracked)
        self._inflight += 1
        try:
            resp = await self._http.request("POST", "/order", body=body, headers=headers, mutating=True)
        except UnknownOutcomeError:
            log.warning("%s: order %s outcome unknown; resolve it with query()", self.venue, client_id)
            raise
        except VenueError:
            tracked.state, tracked.live = OrderState.REJECTED, False
            raise
        finally:
            self._inflight -= 1
        result, now = orjson.loads(resp.body), self.clock.now_ns()
        apply_post_result(self, tracked, result, now)
        return SubmitAck(client_id, tracked.order_id)

    async def submit_batch(self, orders: Sequence[tuple[Approval, str, str]]) -> list[SubmitAck | VenueError]:
        """Up to 15 orders in one `POST /orders`: per order a `SubmitAck` or the venue's error. A failure
        of the whole request raises (a timeout or 5xx: `UnknownOutcomeError` for all of them)."""
        if not 0 < len(orders) <= MAX_BATCH:
            raise InvalidOrderError(f"a batch holds 1 to {MAX_BATCH} orders", venue=self.venue)
        if len({cid for _, cid, _ in orders}) != len(orders):
            raise InvalidOrderError("client order ids repeat within the batch", venue=self.venue)
        signed = [self._sign(a, cid, inst) for a, cid, inst in orders]
        self._hb.refuse_if_failing()
        await funds.check_funds(self, [s.tracked for s in signed], [s.order for s in signed])
        await self._hb.arm()
        self._acquire("POST /orders")
        body, headers = signing.batch_request(self, signed)
        for tracked, *_ in signed:
            self._record(tracked)
        self._inflight += 1
        try:
            resp = await self._http.request("POST", "/orders", body=body, headers=headers, mutating=True)
        except UnknownOutcomeError:
            raise
        except VenueError:
            for tracked, *_ in signed:
                tracked.state, tracked.live = OrderState.REJECTED, False
            raise
        finally:
            self._inflight -= 1
        results, now = orjson.loads(resp.body), self.clock.now_ns()
        out: list[SubmitAck | VenueError] = []
        for (tracked, *_), r in zip(signed, results if isinstance(results, list) else [], strict=False):
            try:
                apply_post_result(self, tracked, r, now)
                out.append(SubmitAck(tracked.client_id, tracked.order_id))
            except VenueError as e:
                out.append(e)
        if len(out) != len(signed):  # an answer without one result per order: those stay unknown
            for tracked, *_ in signed[len(out) :]:
                out.append(UnknownOutcomeError(f"no result for {tracked.client_id}", venue=self.venue))
        return out

    async def cancel(self, client_id: str) -> None:
        oid = self._by_client.get(client_id)
        if oid is None:
            raise OrderNotFoundError(f"no order with client id {client_id}", venue=self.venue)
        body = orjson.dumps({"orderID": oid})
        result = await self._private("DELETE", "/order", body=body, mutating=True, priority=True)
        canceled = self._cancel_result(result)
        if oid not in canceled:
            reason = (result or {}).get("not_canceled", {}).get(oid, "not canceled")
            raise OrderNotFoundError(f"{client_id}: {reason}", venue=self.venue)

    def _cancel_result(self, result: Any) -> set[str]:
        canceled = {str(i) for i in (result or {}).get("canceled") or []}
        for oid in canceled:
            o = self._orders.get(oid)
            if o is not None:
                o.state, o.live = OrderState.CANCELED, False
        return canceled

    async def orders_scoring(self, client_ids: Sequence[str]) -> dict[str, bool]:
        """`POST /orders-scoring`: whether each resting order earns liquidity rewards now (client ids
        the connector does not know are left out)."""
        ids = {oid: cid for cid in client_ids if (oid := self._by_client.get(cid)) is not None}
        if not ids:
            return {}
        result = await self._private("POST", "/orders-scoring", body=orjson.dumps(list(ids)), mutating=False)
        if not isinstance(result, dict):
            raise VenueError("orders-scoring: unexpected answer", venue=self.venue)
        return {cid: bool(result.get(oid, False)) for oid, cid in ids.items() if oid in result}

    async def cancel_many(self, client_ids: Sequence[str]) -> dict[str, str]:
        """`DELETE /orders`: per client id that was not canceled, the venue's reason."""
        ids = {cid: oid for cid in client_ids if (oid := self._by_client.get(cid)) is not None}
        missing = {cid: "unknown client order id" for cid in client_ids if cid not in ids}
        if not ids:
            return missing
        result = await self._private(
            "DELETE", "/orders", body=orjson.dumps(list(ids.values())), mutating=True, priority=True
        )
        canceled = self._cancel_result(result)
        reasons = (result or {}).get("not_canceled") or {}
        return {
            **missing,
            **{cid: str(reasons.get(oid, "not canceled")) for cid, oid in ids.items() if oid not in canceled},
        }

    async def cancel_all(self, instrument: str | None = None) -> int:
        """Every order of this market (`DELETE /cancel-market-orders`), or of one of its tokens."""
        scope: dict[str, str] = {"market": self.condition_id}
        if instrument is not None:
            scope["asset_id"] = self._resolve(instrument)[1]
        result = await self._private(
            "DELETE", "/cancel-market-orders", body=orjson.dumps(scope), mutating=True, priority=True
        )
        return len(self._cancel_result(result))

    async def cancel_account(self) -> int:
        """Every order of the API key in every market (`DELETE /cancel-all`)."""
        result = await self._private("DELETE", "/cancel-all", mutating=True, priority=True)
        return len(self._cancel_result(result))

    def _report(self, o: dict[str, Any], ts_recv: int) -> OrderReport:
        """An order as the venue shows it (read at `ts_recv`), folded into our tracking of it."""
        r = parse.order_report(o, self.trading_spec(), self._symbol_of, self._client_of, ts_recv)
        tracked = self._orders.get(r.venue_order_id)
        if tracked is not None:
            tracked.filled = max(tracked.filled, r.filled)
            tracked.state = r.state
            tracked.live = r.state is OrderState.OPEN
        return r

    def _price(self, raw: Any) -> int:
        """A reported price in price units (rounded to the unit if the venue's is finer)."""
        return parse.price_units(self.trading_spec(), raw)

    async def query(self, client_id: str) -> OrderReport | None:
        oid = self._by_client.get(client_id)
        if oid is None:
            return None  # never sent from here (nor recorded in the order log)
        try:
            body = await self._private("GET", f"/data/order/{oid}", mutating=False, route="GET /data/order")
        except OrderNotFoundError:
            body = None
        if not body:
            tracked = self._orders.get(oid)
            if tracked is not None and tracked.state is None:
                tracked.live = False  # never reached the venue: it holds no funds, needs no heartbeat
            return None
        return self._report(body, self.clock.now_ns())

    async def open_orders(self) -> list[OrderReport]:
        rows = await self._paged("/data/orders", {"market": self.condition_id})
        now = self.clock.now_ns()
        return [self._report(o, now) for o in rows if str(o.get("asset_id", "")) in self._symbol_of]

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        rows = await self._paged(
            "/data/trades", {"market": self.condition_id, "after": max(0, ts_ns // 1_000_000_000)}
        )
        out: list[FillReport] = []
        for t in rows:
            if str(t.get("status", "")).upper() == "FAILED":
                continue
            out.extend(self._fills_of(t))
        return out

    def _ours(self, owner: str, order_id: str) -> bool:
        return owner == self._api_key or order_id in self._orders

    def _fills_of(self, t: dict[str, Any], ts_recv: int | None = None) -> list[FillReport]:
        """Our fills in one trade (see `parse.fills_of`), read at `ts_recv` (by default now)."""
        spec, now = self.trading_spec(), self.clock.now_ns() if ts_recv is None else ts_recv
        return parse.fills_of(t, spec, self._symbol_of, self._client_of, self._ours, now)

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        return []  # outcome tokens have no perpetual funding

    # ---- funds -----------------------------------------------------------------------------------

    async def positions(self) -> dict[str, int]:
        """Each token's balance at the venue, in micro-shares."""
        return await funds.positions(self)

    async def collateral(self) -> Decimal:
        """The wallet's pUSD balance at the venue."""
        self._balances.pop("COLLATERAL", None)
        return Decimal((await funds.balance(self, None)).balance) * MICRO

    async def chain_balance(self) -> ChainBalance:
        """The wallet (funder) on Polygon by `eth_call`: pUSD balance and allowance for the market's
        exchange, both tokens' CTF balances and the CTF approval."""
        if self._rpc is None:
            raise ConfigError("no Polygon JSON-RPC endpoint configured (Endpoints.rpc)")
        return await chain.chain_balance(
            self._rpc, self.venue, self.funder, self.exchange, self._tokens, v2=self.protocol_v2
        )

    async def extra_checks(self) -> list[tuple[str, bool | None, str]]:
        """`trader testnet`'s checks beyond the common ones: the Polygon RPC answers for our chain."""
        return [await chain.rpc_check(self._rpc, self.endpoints.rpc, self._chain_id)]

    # ---- heartbeats (dead-man switch, see heartbeat.py) -------------------------------------------

    async def _send_heartbeat(self, heartbeat_id: str) -> Any:
        body = orjson.dumps({"heartbeat_id": heartbeat_id})
        return await self._private("POST", "/v1/heartbeats", body=body, mutating=False, priority=True)

    def _needs_heartbeat(self) -> bool:
        return self._inflight > 0 or any(o.live for o in self._orders.values())

    # ---- events (the market and user channels are in streams.py) ------------------------------------

    async def events(self) -> AsyncIterator[VenueEvent]:
        while True:
            yield await self._queue.get()
