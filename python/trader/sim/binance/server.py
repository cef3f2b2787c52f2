"""`BinanceSimServer`: every market of the Binance protocol on one port of the shared `VenueServer`
base (aiohttp, fault middleware, admin API), assembled from the books, the margin desk, the feeds,
the user-data store, the REST table and the WebSocket side (the built-in `sim` venue is this server too,
see `trader.venues.registry`). `SpotSimServer` is the same server with the spot market only."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aiohttp import web

from trader.clock import Clock
from trader.sim.auth import load_ed25519_public_key
from trader.sim.binance import futures_account
from trader.sim.binance.errors import ApiError
from trader.sim.binance.feeds import FUTURES_FEED, SPOT_FEED, DepthFeed, Subs, publish
from trader.sim.binance.filters import FUTURES, INSTRUMENTS, SpotInstrument
from trader.sim.binance.funding import Funding
from trader.sim.binance.futuresbook import FuturesBook, Trades, fpx, fqty
from trader.sim.binance.limits import Limits
from trader.sim.binance.margin import MarginDesk
from trader.sim.binance.ops import Operations
from trader.sim.binance.rest import Rest, error_response
from trader.sim.binance.spotbook import SpotBook
from trader.sim.binance.state import (
    DEMO_KEY,
    DEMO_SECRET,
    FUTURES_MARKET,
    FUTURES_WALLET,
    MARGIN_MARKET,
    SPOT,
    SPOT_MARKET,
    Account,
    FuturesAccount,
    Market,
)
from trader.sim.binance.tape import Tape
from trader.sim.binance.userdata import Event, UserData
from trader.sim.binance.ws import Sockets
from trader.sim.server import VenueServer

ALL_MARKETS = (SPOT_MARKET, FUTURES_MARKET, MARGIN_MARKET)


class BinanceSimServer(VenueServer):
    venue = "binance"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        venue: str = "binance",
        step_ms: int = 100,
        weight_limit: int = 6000,
        orders_per_10s: int = 200,
        accounts: dict[str, str] | None = None,
        ed25519_accounts: dict[str, str] | None = None,
        futures_symbol: str = "BTCUSDT",
        futures_weight_limit: int = 2400,
        futures_orders_per_10s: int = 300,
        futures_orders_per_1m: int = 1200,
        futures_wallet: Decimal = Decimal(100_000),
        funding_interval_s: float = 8 * 3600,
        funding_rate: Decimal = Decimal("0.0001"),
        margin_cross_usdt: Decimal = Decimal(10_000),
        margin_isolated_usdt: Decimal = Decimal(1_000),
        cross_margin_leverage: int = 3,
        isolated_margin_leverage: int = 10,
        symbol: str = "BTCUSDT",
        buyer_fee_in_base: bool = False,
        markets: tuple[Market, ...] = ALL_MARKETS,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        self.venue = venue
        if symbol not in INSTRUMENTS:
            raise ValueError(f"the simulator lists {', '.join(INSTRUMENTS)}, not {symbol!r}")
        self.markets = markets
        self.has_futures, self.has_margin = FUTURES_MARKET in markets, MARGIN_MARKET in markets
        self.limits = Limits(
            self.clock,
            weight_limit=weight_limit,
            orders_per_10s=orders_per_10s,
            futures_weight_limit=futures_weight_limit,
            futures_orders_per_10s=futures_orders_per_10s,
            futures_orders_per_1m=futures_orders_per_1m,
        )
        self.user = UserData(self.clock, seed, self.send)
        self.sockets_api = Sockets(self)
        self._books(INSTRUMENTS[symbol], futures_symbol, seed, buyer_fee_in_base)
        self._futures_gap = self._gap_seen = False
        self._mark_second = 0
        self.funding = Funding(interval_ms=max(1, int(funding_interval_s * 1000)), rate=Decimal(funding_rate))
        self.ops = Operations(self)
        self.rest = Rest(self)
        self._open_accounts(accounts, ed25519_accounts)
        for key in self.accounts:
            self.futures.accounts[key] = FuturesAccount(wallet=futures_wallet)
            if self.has_margin:
                self.margin.open(
                    key,
                    margin_cross_usdt,
                    margin_isolated_usdt,
                    cross_margin_leverage,
                    isolated_margin_leverage,
                )

    def _books(self, inst: SpotInstrument, futures_symbol: str, seed: int, buyer_fee_in_base: bool) -> None:
        """The spot book (with the margin desk on it), the futures book, and their depth feeds."""
        self.spot = SpotBook(
            inst,
            seed=seed,
            clock=self.clock,
            limits=self.limits,
            emit=self.user.emit,
            buyer_fee_in_base=buyer_fee_in_base,
        )
        self.futures = FuturesBook(
            futures_symbol,
            inst.quote,
            seed=seed,
            clock=self.clock,
            limits=self.limits,
            emit=self._futures_user_event,
            public_trades=self._futures_trades,
        )
        self.margin = MarginDesk(self.spot)
        self.spot.public_trades = self._spot_trades
        self.spot_tape = Tape(
            inst.symbol, self._spot_px, self._spot_qty, self.spot.unit, futures=False,
            top=lambda: _top(self.spot.engine), mid=lambda: round(self.spot.market.mid),
        )  # fmt: skip
        self.futures_tape = Tape(
            futures_symbol, fpx, fqty, FUTURES.tick * FUTURES.step, futures=True,
            top=lambda: _top(self.futures.engine), mid=lambda: round(self.futures.market.mid),
        )  # fmt: skip
        self.spot_feed = DepthFeed(
            SPOT_FEED, self.spot.engine, self.spot.symbol, self._spot_px, self._spot_qty, self.send,
            self.sockets_api.spot_subs,
        )  # fmt: skip
        self.futures_feed = DepthFeed(
            FUTURES_FEED, self.futures.engine, futures_symbol, fpx, fqty, self.send,
            self.sockets_api.futures_public_subs,
        )  # fmt: skip

    def _open_accounts(
        self, accounts: dict[str, str] | None, ed25519_accounts: dict[str, str] | None
    ) -> None:
        if accounts is None and not ed25519_accounts:
            accounts = {DEMO_KEY: DEMO_SECRET}
        for key, secret in (accounts or {}).items():
            self.accounts[key] = Account(secret.encode(), self.spot.initial_balances())
        for key, pem in (ed25519_accounts or {}).items():
            public = load_ed25519_public_key(pem, key)
            self.accounts[key] = Account(b"", self.spot.initial_balances(), public_key=public)

    # ---- what tests and other modules read ---------------------------------------------------------

    @property
    def accounts(self) -> dict[str, Account]:
        return self.spot.accounts

    @property
    def engine(self) -> Any:
        return self.spot.engine

    @property
    def f_engine(self) -> Any:
        return self.futures.engine

    @property
    def instrument(self) -> SpotInstrument:
        return self.spot.inst

    @property
    def base(self) -> str:
        return self.spot.base

    @property
    def quote(self) -> str:
        return self.spot.quote

    @property
    def symbol(self) -> str:
        return self.spot.symbol

    @property
    def tick(self) -> Decimal:
        return self.spot.tick

    @property
    def step(self) -> Decimal:
        return self.spot.step

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def mid(self) -> Decimal:
        """The spot mid in quote units."""
        return self.spot.mid()

    def mark(self) -> Decimal:
        """The futures mark price."""
        return self.futures.mark()

    def ban(self, seconds: int = 120) -> None:
        """Ban this IP (every budget) for `seconds`, as if another client here had kept going past a
        429: every request then gets 418 with Retry-After."""
        self.limits.ban(seconds)

    def used_weight(self, path: str) -> tuple[int, int]:
        """(used this minute, limit) of the budget `path` draws on."""
        return self.limits.used_weight(path)

    def order_counters(self, market: Market, key: str) -> Account:
        """The account whose order counts a market's responses report."""
        return self.futures.counters(key) if market is FUTURES_MARKET else self.accounts[key]

    def error_response(self, e: ApiError) -> web.Response:
        return error_response(e)

    def _futures_user_event(self, key: str, event: Event) -> None:
        self.user.emit((key, FUTURES_WALLET), event)

    def _spot_px(self, ticks: int) -> str:
        return self.spot.fmt(ticks, self.spot.tick)

    def _spot_qty(self, lots: int) -> str:
        return self.spot.fmt(lots, self.spot.step)

    # ---- routes ------------------------------------------------------------------------------------

    def routes(self) -> list[web.RouteDef]:
        s = self.sockets_api
        out = self.rest.routes(self.markets)
        out += [
            web.get("/ws", s.spot),
            web.get("/ws/{streams:.*}", s.spot),
            web.get("/stream", s.spot),
            web.get("/ws-api/v3", s.spot_api),
        ]
        if self.has_futures:
            out += [
                web.get("/public/ws", s.futures_public),
                web.get("/public/ws/{streams:.*}", s.futures_public),
                web.get("/public/stream", s.futures_public),
                web.get("/market/ws", s.futures_market),
                web.get("/market/ws/{streams:.*}", s.futures_market),
                web.get("/market/stream", s.futures_market),
                web.get("/private/ws", s.futures_private),
                web.get("/private/ws/{listen_key}", s.futures_private),
                web.get("/private/stream", s.futures_private),
                web.get("/ws-fapi/v1", s.futures_api),
            ]
        return out

    # ---- the market moves --------------------------------------------------------------------------

    def on_step(self, dt_ns: int) -> None:
        if self.faults.sequence_gap and not self._gap_seen:  # one gap on the futures feed too
            self._futures_gap = True
        self._gap_seen = self.faults.sequence_gap
        self._step_spot(dt_ns)
        if self.has_futures:
            trades = self.futures.market.step(dt_ns)
            self.futures.settle(
                [
                    t
                    for t in trades
                    if t.maker_order_id in self.futures.orders or t.taker_order_id in self.futures.orders
                ]
            )
            self._futures_trades(trades)
            self.publish_futures_depth()
            self._publish_mark()
            if not self.faults.stale_feed:
                subs = self.sockets_api.futures_market_subs
                self._publish_all(subs, self.futures_tape.periodic_events(self.now_ms(), _wanted(subs)))
            self._settle_funding()
            self.futures.check_countdowns()
            self.user.expire_listen_keys()
        self.user.expire_tokens()

    def _step_spot(self, dt_ns: int) -> None:
        trades = self.spot.market.step(dt_ns)
        self.spot.settle(
            [
                t
                for t in trades
                if t.maker_order_id in self.spot.orders or t.taker_order_id in self.spot.orders
            ]
        )
        self._spot_trades(trades)
        now = self.now_ms()
        subs = self.sockets_api.spot_subs
        if not self.faults.stale_feed:
            self._publish_all(subs, self.spot_tape.periodic_events(now, _wanted(subs)))
        if self.spot_feed.step(now, gap=self.faults.sequence_gap, stale=self.faults.stale_feed):
            self.faults.sequence_gap = False

    def _spot_trades(self, trades: Trades) -> None:
        """Public trades of the spot book (the background's and the API orders'): the tape, @trade and
        @aggTrade."""
        now = self.now_ms()
        prints = self.spot_tape.record(trades, now)
        if not self.faults.stale_feed:
            self._publish_all(self.sockets_api.spot_subs, self.spot_tape.trade_events(prints, now))

    def _publish_all(self, subs: Subs, events: list[tuple[str, Any]]) -> None:
        for stream, ev in events:
            publish(self.send, subs, stream, ev)

    def publish_futures_depth(self) -> None:
        if self.futures_feed.step(self.now_ms(), gap=self._futures_gap, stale=self.faults.stale_feed):
            self._futures_gap = False

    def _futures_trades(self, trades: Trades) -> None:
        now = self.now_ms()
        prints = self.futures_tape.record(trades, now)
        if not self.faults.stale_feed:
            self._publish_all(
                self.sockets_api.futures_market_subs, self.futures_tape.trade_events(prints, now)
            )

    def _settle_funding(self) -> None:
        at = self.funding.due(self.now_ms())
        if at is not None:
            self.funding.settle(self.futures, at)

    def _publish_mark(self) -> None:
        now = self.now_ms()
        if now // 1000 == self._mark_second or self.faults.stale_feed:
            return
        self._mark_second = now // 1000
        mark = f"{self.futures.mark():.8f}"
        ev = {"e": "markPriceUpdate", "E": now, "s": self.futures.symbol, "p": mark, "ap": mark, "P": mark}
        interval = self.funding.interval_ms
        ev |= {
            "i": f"{self.mid():.8f}",
            "r": f"{self.funding.rate:.8f}",
            "T": (now // interval + 1) * interval,
        }
        sym = self.futures.symbol.lower()
        for stream in (f"{sym}@markPrice", f"{sym}@markPrice@1s"):
            publish(self.send, self.sockets_api.futures_market_subs, stream, ev)

    # ---- admin -------------------------------------------------------------------------------------

    def state(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        spot = self.spot
        for key, a in self.accounts.items():
            out[key] = {
                "orders": [
                    {
                        "clientOrderId": o.client_id,
                        "orderId": o.order_id,
                        "status": o.status,
                        "side": o.side,
                        "price": spot.fmt(o.price, spot.tick),
                        "origQty": spot.fmt(o.qty, spot.step),
                        "executedQty": spot.fmt(o.filled, spot.step),
                    }
                    for o in spot.orders_of(key, SPOT)
                ],
                "submissions": a.submissions,
                "trades": a.trades,
                "balances": {k: [f"{v[0]:.8f}", f"{v[1]:.8f}"] for k, v in a.balances.items()},
            }
            if self.has_futures:
                out[key]["futures"] = futures_account.state(self.futures, key)
            if self.has_margin:
                out[key]["margin"] = self.margin.state(key)
        return out


class SpotSimServer(BinanceSimServer):
    """The spot market alone (REST `/api/v3`, streams, `/ws-api/v3`), venue `sim` by default."""

    venue = "sim"

    def __init__(self, *, venue: str = "sim", **kw: Any) -> None:
        super().__init__(venue=venue, markets=(SPOT_MARKET,), **kw)


def _top(engine: Any) -> tuple[int, int, int, int]:
    """The best bid and ask with their sizes (ticks, lots; 0 for an empty side)."""
    bids, asks = engine.depth(1)
    bid, bid_qty = bids[0] if bids else (0, 0)
    ask, ask_qty = asks[0] if asks else (0, 0)
    return bid, bid_qty, ask, ask_qty


def _wanted(subs: Subs) -> set[str]:
    """Every stream some socket of `subs` is subscribed to."""
    out: set[str] = set()
    for streams, _ in subs.values():
        out |= streams
    return out
