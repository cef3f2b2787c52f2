"""The Polymarket simulator's server: setup and admin methods, routes, time steps, on the shared
`trader.sim.server.VenueServer` base."""

from __future__ import annotations

import asyncio
import collections
import hashlib
import hmac
import itertools
import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import partial
from typing import Any

import orjson
from aiohttp import web
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from trader.clock import Clock
from trader.sim import matching
from trader.sim.polymarket import chain, data, orders, rest, ws
from trader.sim.polymarket.state import (
    AMPLE,
    DAY_S,
    GAMMA_ID_BASE,
    GTD_THRESHOLD_S,
    LIFETIME_DAYS,
    MAX_UINT256,
    ORDER_PATHS,
    SCALE,
    TAPE,
    UNIT,
    ApiError,
    ApiKey,
    BackgroundParams,
    Call,
    Fill,
    Market,
    Order,
    Wallet,
    _key,
    _unix_s,
    fmt,
    to_units,
)
from trader.sim.server import VenueServer


class PolymarketSimServer(VenueServer):
    FAULT_PATHS = ORDER_PATHS
    venue = "polymarket"

    @property
    def default_symbol(self) -> str:
        """The YES token of the first market that is not negative-risk: what a rehearsal trades."""
        market = next(m for m in self.markets.values() if not m.neg_risk)
        return f"{market.condition_id}:YES"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        step_ms: int = 100,
        default_collateral: Decimal = Decimal(1000),
        heartbeat_timeout_ms: int = 10_000,
        page_size: int = 500,
        rate_limits: dict[str, tuple[int, int]] | None = None,
        background: bool = True,
        background_params: BackgroundParams | None = None,
        deposit_wallet_only: bool = False,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        # True: orders must come from a deposit wallet (POLY_1271), as the venue answers new accounts
        self.deposit_wallet_only = deposit_wallet_only
        self.background = background
        self.background_params = background_params or BackgroundParams()
        self.default_collateral = to_units(default_collateral, UNIT)
        self.heartbeat_timeout_ms = heartbeat_timeout_ms
        self.page_size = page_size
        # "METHOD /path" -> (requests, window ms), per API key (per peer when unauthenticated)
        self.rate_limits = (
            rate_limits
            if rate_limits is not None
            else {
                "POST /order": (5000, 10_000),
                "POST /orders": (2000, 10_000),
                "DELETE /order": (5000, 10_000),
                "DELETE /orders": (2000, 10_000),
                "DELETE /cancel-all": (250, 10_000),
                "GET /balance-allowance": (200, 10_000),
                "GET /book": (1500, 10_000),
                "GET /gamma/markets": (300, 10_000),
            }
        )
        # condition id -> Gamma fields served instead of the market's own (an indexer that lags or
        # disagrees with the CLOB, for tests): `set_gamma_override`, `POST /sim/gamma-override`
        self.gamma_overrides: dict[str, dict[str, Any]] = {}
        self._hits: dict[tuple[str, str], list[int]] = {}
        self._secret = hashlib.sha256(f"polymarket-sim/{seed}".encode()).digest()
        self.keys: dict[str, ApiKey] = {}
        self.wallets: dict[str, Wallet] = {}
        self.chain_nonces: dict[str, int] = {}  # address (lower) -> next transaction nonce
        self.chain_receipts: dict[str, dict[str, Any]] = {}  # transaction hash -> receipt
        self.funders: dict[tuple[str, int], str] = {}  # (EOA lower, signature type) -> funder
        self.orders: dict[str, Order] = {}
        self.fills: dict[str, Fill] = {}
        self._by_engine: dict[int, Order] = {}
        self._engine_ids = itertools.count(1)
        self._fill_ids = itertools.count(1)
        self._market_subs: dict[web.WebSocketResponse, tuple[set[str], bool, asyncio.Queue[str]]] = {}
        self._user_subs: dict[web.WebSocketResponse, tuple[str, set[str], asyncio.Queue[str]]] = {}
        self.markets: dict[str, Market] = {}
        self.tokens: dict[str, Market] = {}
        self.tape: collections.deque[Fill] = collections.deque(maxlen=TAPE)  # every print, newest last
        # the background's participants: (address, owner id); the owner ids are not API keys
        self.participants: list[tuple[str, str]] = []
        for i in range(self.background_params.participants if background else 0):
            h = self._hash("participant", str(i))
            address = to_checksum_address("0x" + keccak(h)[-20:].hex())
            self.participants.append((address, str(uuid.UUID(bytes=h[:16], version=4))))
            self.wallet(address).collateral = AMPLE
        self._background_keys = {k for _, k in self.participants}
        for i, (question, tick, neg_risk) in enumerate(
            (
                ("Will the simulator's coin land heads?", "0.01", False),
                ("Will the simulated rate be above 4.000%?", "0.001", False),
                ("Will candidate A win the simulated election?", "0.01", True),
            )
        ):
            self.add_market(question, tick=Decimal(tick), neg_risk=neg_risk, slug=f"sim-market-{i}")
        # and a Protocol V2 market (position ids, ExchangeV3), so any client finds both kinds
        self.add_market(
            "Will the simulated Protocol V2 market settle?", slug="sim-market-v2", protocol_v2=True
        )

    def _hash(self, *parts: str) -> bytes:
        return hmac.new(self._secret, "/".join(parts).encode(), hashlib.sha256).digest()

    def add_market(
        self,
        question: str,
        *,
        tick: Decimal = Decimal("0.01"),
        min_size: Decimal = Decimal(5),
        neg_risk: bool = False,
        slug: str = "",
        rewards_max_spread: Decimal = Decimal("0.035"),
        rewards_min_size: Decimal = Decimal(20),
        rewards_daily_rate: Decimal = Decimal(100),
        end_date: datetime | None = None,
        background: bool | None = None,
        protocol_v2: bool = False,
    ) -> Market:
        """A new binary market; with a background market (default: the server's `background`) when the
        server has participants. Without `end_date` it ends at the UTC midnight `LIFETIME_DAYS` days from
        the server clock's day. `protocol_v2`: a Protocol V2 market (position ids, ExchangeV3)."""
        now_s = self.clock.now_ns() // 1_000_000_000
        end_s = (now_s // DAY_S + LIFETIME_DAYS + 1) * DAY_S if end_date is None else _unix_s(end_date)
        if protocol_v2:
            # module 01 (binary) or 02 (neg risk), 16 bytes, 14 zero bytes, and the 00 the market id is
            # padded with; the position ids are the 31 bytes and the outcome index 00 / 01
            body = (
                ("02" if neg_risk else "01")
                + keccak(self._hash("condition", question))[:16].hex()
                + "00" * 14
            )
            condition_id = "0x" + body + "00"
            yes, no = str(int(body + "00", 16)), str(int(body + "01", 16))
        else:
            condition_id = "0x" + keccak(self._hash("condition", question)).hex()
            yes, no = (str(int.from_bytes(keccak(self._hash("token", condition_id, o)), "big")) for o in "YN")
        m = Market(
            condition_id=condition_id,
            question=question,
            slug=slug or condition_id[2:14],
            yes=yes,
            no=no,
            tick=to_units(tick, SCALE),
            min_size=to_units(min_size, UNIT),
            neg_risk=neg_risk,
            rewards_max_spread=to_units(rewards_max_spread, SCALE),
            rewards_min_size=to_units(rewards_min_size, UNIT),
            engine=matching.MatchingEngine(
                maker_fee_bps=Decimal(0), taker_fee_bps=Decimal(0), unit_notional=Decimal(1)
            ),
            gamma_id=str(GAMMA_ID_BASE + len(self.markets)),
            created_s=now_s,
            end_s=end_s,
            rewards_daily_rate=to_units(rewards_daily_rate, UNIT),
            protocol_v2=protocol_v2,
        )
        self.markets[condition_id] = m
        self.tokens[yes] = self.tokens[no] = m
        if (self.background if background is None else background) and self.participants:
            orders.start_background(self, m)
        return m

    def wallet(self, address: str) -> Wallet:
        w = self.wallets.get(_key(address))
        if w is None:
            w = self.wallets[_key(address)] = Wallet.fresh(self.default_collateral)
        return w

    def fund(
        self,
        address: str,
        *,
        collateral: Decimal | int | None = None,
        tokens: dict[str, Decimal | int] | None = None,
    ) -> Wallet:
        """Set (not add) a wallet's pUSD and outcome-token balances, in whole pUSD/shares."""
        w = self.wallet(address)
        if collateral is not None:
            w.collateral = to_units(collateral, UNIT)
        for token, shares in (tokens or {}).items():
            if token not in self.tokens:
                raise ValueError(f"unknown token {token}")
            w.tokens[token] = to_units(shares, UNIT)
        return w

    def set_allowance(self, address: str, spender: str, amount: Decimal | int) -> None:
        self.wallet(address).allowance[_key(spender)] = (
            MAX_UINT256 if amount == MAX_UINT256 else to_units(amount, UNIT)
        )

    def set_approval(self, address: str, operator: str, approved: bool, *, v2: bool = False) -> None:
        """`setApprovalForAll(operator, approved)` on the CTF, or (`v2`) on the PositionManager."""
        w = self.wallet(address)
        ops = w.approved_v2 if v2 else w.approved
        (ops.add if approved else ops.discard)(_key(operator))

    def link_funder(self, eoa: str, funder: str, signature_type: int) -> None:
        """The proxy (1) or Safe (2) wallet the venue would derive for `eoa`."""
        self.funders[(_key(eoa), signature_type)] = funder

    def resolve(self, condition_id: str, winner: str) -> None:
        """Close a market: cancel its orders; every winning share pays 1 pUSD, losing shares nothing.
        `winner` is a token id or an outcome name."""
        m = self.markets[condition_id]
        if m.closed:
            raise ValueError("market already resolved")
        win = {m.yes: m.yes, m.no: m.no, m.outcomes[0]: m.yes, m.outcomes[1]: m.no}.get(winner)
        if win is None:
            raise ValueError(f"{winner!r} is not an outcome of {condition_id}")
        for o in [o for o in self.orders.values() if o.market is m and o.live]:
            orders.cancel(self, o, "CANCELED_MARKET_RESOLVED")
        if m.background is not None:
            for o in m.background.resting.values():
                if o.live:
                    orders.cancel(self, o, "CANCELED_MARKET_RESOLVED")
            m.background.resting.clear()
        m.closed, m.winner = True, win
        for w in self.wallets.values():
            w.collateral += w.tokens.pop(win, 0)
            w.tokens.pop(m.other(win), None)
        ws.publish_market(self, m)
        event = {
            "event_type": "market_resolved",
            "market": m.condition_id,
            "assets_ids": [m.yes, m.no],
            "winning_asset_id": win,
            "winning_outcome": m.outcome(win),
            "timestamp": str(self.now_ms()),
        }
        for queue in ws.market_queues(self, {m.yes, m.no}, custom=True):
            queue.put_nowait(orjson.dumps(event).decode())

    def set_tick_size(self, condition_id: str, tick: Decimal) -> None:
        m = self.markets[condition_id]
        old, m.tick = m.tick, to_units(tick, SCALE)
        now = str(self.now_ms())
        for token in (m.yes, m.no):
            event = {
                "event_type": "tick_size_change",
                "asset_id": token,
                "market": m.condition_id,
                "old_tick_size": fmt(old, SCALE),
                "new_tick_size": fmt(m.tick, SCALE),
                "timestamp": now,
            }
            for queue in ws.market_queues(self, {token}):
                queue.put_nowait(orjson.dumps(event).decode())

    def set_end_date(self, condition_id: str, end: datetime) -> None:
        """Move a market's end date (Gamma `endDate`, CLOB `end_date_iso`); it does not resolve it."""
        self.markets[condition_id].end_s = _unix_s(end)

    def set_gamma_override(self, condition_id: str, fields: dict[str, Any]) -> None:
        """Serve these Gamma fields for the market instead of its own (merged over the last override);
        an empty dict clears it. The CLOB keeps the market's real state: the two disagree."""
        if condition_id not in self.markets:
            raise ValueError(f"unknown market {condition_id}")
        if fields:
            self.gamma_overrides[condition_id] = {**self.gamma_overrides.get(condition_id, {}), **fields}
        else:
            self.gamma_overrides.pop(condition_id, None)

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def _route(self, method: str, path: str, fn: Callable[[Call], Any], auth: str = "") -> web.RouteDef:
        async def handler(request: web.Request) -> web.StreamResponse:
            q = request.query
            multi = {k: q.getall(k) for k in q}
            call = Call(dict(q), await request.read(), dict(request.match_info), multi)
            try:
                if auth == "l1":
                    rest.l1(self, request, call)
                elif auth == "l2":
                    rest.l2(self, request, call)
                rest.throttle(self, request, call)
                result = fn(call)
            except ApiError as e:
                return web.Response(
                    body=orjson.dumps({"error": e.msg}), status=e.status, content_type="application/json"
                )
            if isinstance(result, str):
                return web.Response(text=result)
            return web.Response(body=orjson.dumps(result), content_type="application/json")

        return web.route(method, path, handler)

    def gamma_markets(self, call: Call) -> list[dict[str, Any]]:
        """Gamma's `GET /markets` (`rest.gamma_markets`): a method, so a test can model another Gamma."""
        return rest.gamma_markets(self, call)

    def routes(self) -> list[web.RouteDef]:
        r = self._route
        return [
            r("GET", "/", lambda c: "OK"),
            r("GET", "/ok", lambda c: "OK"),
            r("GET", "/time", lambda c: self.now_ms() // 1000),
            r("GET", "/version", lambda c: {"version": 2}),
            r("POST", "/auth/api-key", partial(rest.create_api_key, self), "l1"),
            r("GET", "/auth/derive-api-key", partial(rest.derive_api_key, self), "l1"),
            r("GET", "/auth/api-keys", partial(rest.api_keys, self), "l2"),
            r("DELETE", "/auth/api-key", partial(rest.delete_api_key, self), "l2"),
            r("GET", "/auth/ban-status/closed-only", lambda c: {"closed_only": False}, "l2"),
            r("GET", "/markets", partial(rest.get_markets, self)),
            r("GET", "/markets/{condition_id}", partial(rest.get_market, self)),
            r("GET", "/clob-markets/{condition_id}", partial(rest.clob_market, self)),
            r("GET", "/markets-by-token/{token_id}", partial(rest.market_by_token, self)),
            r("GET", "/book", partial(rest.get_book, self)),
            r("POST", "/books", partial(rest.get_books, self)),
            r("GET", "/tick-size", partial(rest.tick_size, self)),
            r("GET", "/neg-risk", partial(rest.neg_risk, self)),
            r("GET", "/fee-rate", partial(rest.fee_rate, self)),
            r("GET", "/midpoint", partial(rest.midpoint, self)),
            r("GET", "/spread", partial(rest.spread, self)),
            r("GET", "/last-trade-price", partial(rest.last_trade_price, self)),
            r("POST", "/order", partial(orders.post_order, self), "l2"),
            r("POST", "/orders", partial(orders.post_orders, self), "l2"),
            r("DELETE", "/order", partial(orders.cancel_order, self), "l2"),
            r("DELETE", "/orders", partial(orders.cancel_orders, self), "l2"),
            r("DELETE", "/cancel-all", partial(orders.cancel_all, self), "l2"),
            r("DELETE", "/cancel-market-orders", partial(orders.cancel_market_orders, self), "l2"),
            r("GET", "/data/order/{order_id}", partial(rest.get_order, self), "l2"),
            r("GET", "/data/orders", partial(rest.get_orders, self), "l2"),
            r("GET", "/data/trades", partial(rest.get_trades, self), "l2"),
            r("GET", "/balance-allowance", partial(rest.balance_allowance, self), "l2"),
            r("GET", "/balance-allowance/update", partial(rest.balance_allowance, self), "l2"),
            r("GET", "/order-scoring", partial(rest.order_scoring, self), "l2"),
            r("POST", "/orders-scoring", partial(rest.orders_scoring, self), "l2"),
            r("POST", "/v1/heartbeats", partial(rest.heartbeat, self), "l2"),
            r("POST", "/heartbeats", partial(rest.heartbeat, self), "l2"),
            r("GET", "/gamma/markets", self.gamma_markets),
            r("GET", "/gamma/markets/keyset", partial(data.markets_keyset, self)),
            r("GET", "/gamma/markets/slug/{slug}", partial(data.gamma_market_by_slug, self)),
            r("GET", "/gamma/markets/{id}", partial(rest.gamma_market, self)),
            r("GET", "/gamma/events", partial(data.gamma_events, self)),
            r("GET", "/gamma/events/keyset", partial(data.events_keyset, self)),
            r("GET", "/gamma/events/slug/{slug}", partial(data.gamma_event_by_slug, self)),
            r("GET", "/gamma/events/{id}", partial(data.gamma_event, self)),
            r("GET", "/gamma/public-search", partial(data.public_search, self)),
            r("GET", "/prices-history", partial(data.prices_history, self)),
            r("GET", "/data-api/positions", partial(data.classic_positions, self)),
            r("GET", "/data-api/trades", partial(data.classic_trades, self)),
            r("GET", "/data-api/v2/positions", partial(data.v2_positions, self)),
            r("GET", "/data-api/v2/trades", partial(data.v2_trades, self)),
            r("GET", "/data-api/v2/prices-history", partial(data.v2_prices_history, self)),
            r("POST", "/rpc", partial(chain.rpc, self)),
            r("POST", "/sim/fund", partial(rest.admin_fund, self)),
            r("POST", "/sim/resolve", partial(rest.admin_resolve, self)),
            r("POST", "/sim/tick-size", partial(rest.admin_tick_size, self)),
            r("POST", "/sim/end-date", partial(rest.admin_end_date, self)),
            r("POST", "/sim/gamma-override", partial(rest.admin_gamma_override, self)),
            web.get("/ws/market", partial(ws.market_ws, self)),
            web.get("/ws/user", partial(ws.user_ws, self)),
        ]

    def on_step(self, dt_ns: int) -> None:
        now_ms = self.now_ms()
        touched: dict[str, Market] = {}
        fills: dict[str, list[Fill]] = {}
        for m in self.markets.values():
            if m.background is not None and not m.closed:
                changed, fills[m.condition_id] = orders.step_background(self, m, dt_ns)
                if changed:
                    touched[m.condition_id] = m
        for o in list(self.orders.values()):
            if o.live and o.order_type == "GTD" and (o.expiration - GTD_THRESHOLD_S) * 1000 <= now_ms:
                orders.cancel(self, o)
                touched[o.market.condition_id] = o.market
        for key in self.keys.values():
            if key.heartbeat_deadline_ms and now_ms > key.heartbeat_deadline_ms:
                key.heartbeat_deadline_ms, key.heartbeat_id = 0, ""
                for o in orders.live_of(self, key.key):
                    orders.cancel(self, o)
                    touched[o.market.condition_id] = o.market
        for m in touched.values():
            ws.publish_market(self, m, fills.get(m.condition_id))

    def state(self) -> dict[str, Any]:
        participants = {_key(a) for a, _ in self.participants}
        return {
            "keys": {
                k.key: {
                    "address": k.address,
                    "heartbeat": bool(k.heartbeat_deadline_ms),
                    "orders": [rest.order_json(self, o) for o in self.orders.values() if o.key == k.key],
                    "trades": [
                        rest.trade_json(self, f, k.key)
                        for f in self.fills.values()
                        if k.key in (f.taker.key, f.maker.key)
                    ],
                }
                for k in self.keys.values()
            },
            "wallets": {
                a: {"collateral": str(w.collateral), "tokens": {t: str(v) for t, v in w.tokens.items() if v}}
                for a, w in self.wallets.items()
                if a not in participants
            },
            "markets": {
                m.condition_id: {"closed": m.closed, "winner": m.winner, "yes": m.yes, "no": m.no}
                for m in self.markets.values()
            },
            "background": {
                m.condition_id: {
                    "fair": fmt(m.background.fair, SCALE),
                    "resting": sum(o.live for o in m.background.resting.values()),
                }
                for m in self.markets.values()
                if m.background is not None and not m.closed
            },
        }
