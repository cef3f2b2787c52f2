"""The OKX simulator: REST v5 (`rest.py`), the public WebSocket (`books` with `seqId`/`prevSeqId`,
`trades`) and the private one (login, `orders`), on `trader.sim.server.VenueServer` (faults, admin API).
Spot (`BTC-USDT`, `ETH-USDT`) and a USDT-margined perpetual (`BTC-USDT-SWAP`, sizes in contracts of
ctVal 0.01 BTC, net positions, funding settled every `funding_interval_ms`).

Options: `time_window_ms` (OKX refuses requests stamped more than 30 s off: 50102), `dead_man_min_s` (the
shortest `cancel-all-after` timeOut accepted; OKX: 10), `funding_interval_ms` (OKX: 8 h),
`buyer_fee_in_base` (OKX takes a spot buyer's fee from the bought asset; by default the simulator charges
it in the quote, as the Binance simulator does), `acct_lv` and `pos_mode` (what `account/config` states:
"2" spot-and-futures and "net_mode" by default; "long_short_mode" refuses swap orders without `posSide`).
The private `positions` and `account` channels push a snapshot on subscription and an update on every
order change, fill and funding settlement."""

from __future__ import annotations

import asyncio
import zlib
from typing import Any

import orjson
from aiohttp import WSMsgType, web

from trader.clock import Clock
from trader.sim.okx.rest import Rest, bulk_code, sign_b64
from trader.sim.okx.state import DEMO_KEY, DEMO_PASSPHRASE, DEMO_SECRET, Book, Instrument, Order, State
from trader.sim.server import VenueServer

WS_ORDER_OPS = (
    "order",
    "batch-orders",
    "cancel-order",
    "batch-cancel-orders",
    "amend-order",
    "batch-amend-orders",
)
DEPTH = 50  # levels the books channel carries in the simulator (OKX: 400)


CHECKSUM_DEPTH = 25


def book_checksum(inst: Instrument, bids: dict[int, int], asks: dict[int, int]) -> int:
    """OKX's `books` checksum, computed here independently of the core: the first 25 levels of each side
    interleaved as `bidPx:bidSz:askPx:askSz:...` (the longer side's rest appended), in the strings sent,
    CRC32 (zlib) as a signed 32-bit integer."""
    b = sorted(bids.items(), reverse=True)[:CHECKSUM_DEPTH]
    a = sorted(asks.items())[:CHECKSUM_DEPTH]
    parts: list[str] = []
    for i in range(max(len(b), len(a))):
        for side in (b, a):
            if i < len(side):
                parts += (inst.plain_px(side[i][0]), inst.plain_sz(side[i][1]))
    crc = zlib.crc32(":".join(parts).encode())
    return crc - 2**32 if crc >= 2**31 else crc


class OkxSimServer(VenueServer):
    FAULT_PATHS = ("POST /api/v5/trade/order", "POST /api/v5/trade/cancel-order")
    venue = "okx"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        step_ms: int = 100,
        time_window_ms: int = 30_000,
        dead_man_min_s: int = 10,
        buyer_fee_in_base: bool = False,
        funding_interval_ms: int = 8 * 3600 * 1000,
        acct_lv: str = "2",
        pos_mode: str = "net_mode",
        book_checksum: bool = True,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        self.st = State(seed, buyer_fee_in_base=buyer_fee_in_base, acct_lv=acct_lv, pos_mode=pos_mode)
        self.time_window_ms = time_window_ms
        self.funding_interval_ms = funding_interval_ms
        now = self.now_ms()
        self.next_funding_ms = now - now % funding_interval_ms + funding_interval_ms
        self.dead_man_min_s = dead_man_min_s
        self.rest = Rest(self)
        self.book_subs: dict[str, set[web.WebSocketResponse]] = {}
        self.trade_subs: dict[str, set[web.WebSocketResponse]] = {}
        self.order_subs: set[web.WebSocketResponse] = set()
        self.position_subs: set[web.WebSocketResponse] = set()
        self.account_subs: set[web.WebSocketResponse] = set()
        self.sent_depth: dict[str, tuple[dict[int, int], dict[int, int]]] = {}
        self.book_checksum = book_checksum  # False: `checksum` 0, as OKX sends since it deprecated it
        self.corrupt_checksum = False  # set: the next books push carries a wrong checksum
        self.book_snapshots = 0  # snapshots sent on the books channel (each (re)subscription)

    @property
    def default_symbol(self) -> str:
        return "BTC-USDT"

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def routes(self) -> list[web.RouteDef]:
        return [
            *self.rest.routes(),
            web.get("/ws/v5/public", self._public),
            web.get("/ws/v5/private", self._private),
        ]

    def state(self) -> dict[str, Any]:
        return self.st.snapshot()

    # ---- the market --------------------------------------------------------------------------------

    def on_step(self, dt_ns: int) -> None:
        now = self.now_ms()
        st = self.st
        if now >= self.next_funding_ms:
            settled = st.settle_funding(now)
            self.publish_positions(settled)
            self.publish_account()
            self.next_funding_ms += self.funding_interval_ms * max(
                1, (now - self.next_funding_ms) // self.funding_interval_ms + 1
            )
        if st.dead_man_at_ms and now >= st.dead_man_at_ms:
            st.dead_man_at_ms = 0
            st.dead_man_fired += 1
            self.publish_orders([st.cancel(o.inst.inst_id, o.ord_id, "", now) for o in st.open_orders()])
        for inst_id, book in st.books.items():
            trades = book.market.step(dt_ns)
            self.publish_orders(st.apply(book, trades, now))
            if self.faults.stale_feed:
                continue
            for t in trades:
                side = "buy" if t.taker_side.value == "BUY" else "sell"
                row = {"instId": inst_id, "tradeId": str(t.trade_id), "px": book.inst.px(t.price),
                       "sz": book.inst.sz(t.qty), "side": side, "ts": str(now), "count": "1"}  # fmt: skip
                self._fan(
                    self.trade_subs.get(inst_id, set()),
                    {"arg": {"channel": "trades", "instId": inst_id}, "data": [row]},
                )
            self._book_update(inst_id, book, now)

    def _levels(self, book: Book) -> tuple[dict[int, int], dict[int, int]]:
        bids, asks = book.engine.depth(DEPTH)
        return dict(bids), dict(asks)

    def _book_msg(
        self, book: Book, action: str, bids: list[list[str]], asks: list[list[str]], prev: int
    ) -> bytes:
        checksum = 0
        if self.book_checksum:  # over the book as the subscriber holds it after this push
            checksum = book_checksum(book.inst, *self.sent_depth[book.inst.inst_id])
            if self.corrupt_checksum:  # one push's checksum is wrong (the subscriber must resync)
                self.corrupt_checksum = False
                checksum = checksum + 1 if checksum < 2**31 - 1 else 1
        data = {"asks": asks, "bids": bids, "ts": str(self.now_ms()), "checksum": checksum,
                "prevSeqId": prev, "seqId": book.seq}  # fmt: skip
        arg = {"channel": "books", "instId": book.inst.inst_id}
        return orjson.dumps({"arg": arg, "action": action, "data": [data]})

    def _book_update(self, inst_id: str, book: Book, now: int) -> None:
        subs = self.book_subs.get(inst_id)
        if not subs:
            return
        old_bids, old_asks = self.sent_depth.get(inst_id, ({}, {}))
        bids, asks = self._levels(book)
        inst = book.inst

        def diff(old: dict[int, int], new: dict[int, int]) -> list[list[str]]:
            rows = [[inst.plain_px(p), inst.plain_sz(q), "0", "1"] for p, q in new.items() if old.get(p) != q]
            return rows + [[inst.plain_px(p), "0", "0", "0"] for p in old if p not in new]

        db, da = diff(old_bids, bids), diff(old_asks, asks)
        if not db and not da:
            return
        prev = book.seq
        book.seq += 1
        if self.faults.sequence_gap:  # one update is lost on the way: the next one does not chain
            self.faults.sequence_gap = False
            book.seq += 1
            prev += 1
        self.sent_depth[inst_id] = (bids, asks)
        self._fan(subs, None, self._book_msg(book, "update", db, da, prev))

    def _snapshot(self, ws: web.WebSocketResponse, book: Book) -> None:
        """A snapshot for `ws`. Other subscribers first get what changed since their last push, so that
        every subscriber's book (and the checksum over it) is the one the snapshot states."""
        inst = book.inst
        subs = self.book_subs.setdefault(inst.inst_id, set())
        subs.discard(ws)  # ... and `ws` nothing before its snapshot
        self._book_update(inst.inst_id, book, self.now_ms())
        subs.add(ws)
        bids, asks = self._levels(book)
        self.sent_depth[inst.inst_id] = (bids, asks)
        self.book_snapshots += 1
        rows = self._rows
        self.send_text(ws, self._book_msg(book, "snapshot", rows(inst, bids), rows(inst, asks), -1))

    @staticmethod
    def _rows(inst: Instrument, levels: dict[int, int]) -> list[list[str]]:
        return [[inst.plain_px(p), inst.plain_sz(q), "0", "1"] for p, q in levels.items()]

    def _fan(self, subs: set[web.WebSocketResponse], msg: dict[str, Any] | None, raw: bytes = b"") -> None:
        payload = raw or orjson.dumps(msg)
        for ws in list(subs):
            if ws.closed:
                subs.discard(ws)
            else:
                self.send_text(ws, payload)

    def send_text(self, ws: web.WebSocketResponse, payload: bytes) -> None:
        """A text frame, as OKX sends."""
        if ws.closed:
            self.sockets.discard(ws)
            return
        task = asyncio.get_running_loop().create_task(ws.send_str(payload.decode()))
        task.add_done_callback(lambda t: t.cancelled() or t.exception())

    def publish_orders(self, orders: list[Order]) -> None:
        """Each order's pushes on `orders`, one per fill (`Order.take_pushes`), in the order the orders
        were touched; then, if any, the account (frozen and cash balances moved) and the positions of the
        SWAP instruments that filled."""
        arg = {"channel": "orders", "instType": "ANY", "uid": "1"}
        seen: set[int] = set()  # an order a sweep filled twice is listed twice: its pushes go once
        for o in orders:
            if id(o) not in seen:
                seen.add(id(o))
                for row in o.take_pushes():
                    self._fan(self.order_subs, {"arg": arg, "data": [row]})
        if orders:
            self.publish_positions(sorted({o.inst.inst_id for o in orders if o.inst.swap and o.last}))
            self.publish_account()

    def _positions_msg(self, rows: list[dict[str, str]], event: str) -> dict[str, Any]:
        arg = {"channel": "positions", "instType": "ANY", "uid": "1"}
        return {"arg": arg, "eventType": event, "curPage": 1, "lastPage": True, "data": rows}

    def publish_positions(self, inst_ids: list[str]) -> None:
        """A `positions` update with these SWAP instruments' positions (flat ones say pos 0)."""
        if inst_ids and self.position_subs:
            rows = [self.st.position_row(i, self.now_ms()) for i in inst_ids]
            self._fan(self.position_subs, self._positions_msg(rows, "event_update"))

    def _account_msg(self, event: str) -> dict[str, Any]:
        arg = {"channel": "account", "uid": "1"}
        data = self.st.balance_rows(self.now_ms())
        return {"arg": arg, "eventType": event, "curPage": 1, "lastPage": True, "data": data}

    def publish_account(self) -> None:
        if self.account_subs:
            self._fan(self.account_subs, self._account_msg("event_update"))

    def _ws_order_op(self, req: dict[str, Any]) -> dict[str, Any]:
        """Order entry on the private WebSocket: `order`, `batch-orders`, `cancel-order` (the REST
        handlers' items; `instIdCode` stands for `instId`)."""
        op, args = str(req["op"]), [dict(a) for a in req.get("args", [])]
        codes = {str(b.inst.code): iid for iid, b in self.st.books.items()}
        for a in args:
            if "instIdCode" in a and "instId" not in a:
                a["instId"] = codes.get(str(a["instIdCode"]), "")
        now = self.now_ms()
        r = self.rest
        handler = {"cancel-order": r.cancel_item, "batch-cancel-orders": r.cancel_item,
                   "amend-order": r.amend_item, "batch-amend-orders": r.amend_item}  # fmt: skip
        items = [handler.get(op, r.placed)(a) for a in args]
        code = bulk_code(items)
        return {"id": req.get("id", ""), "op": op, "code": code, "msg": "", "data": items,
                "inTime": str(now * 1000), "outTime": str(self.now_ms() * 1000)}  # fmt: skip

    # ---- WebSocket ------------------------------------------------------------------------------------

    async def _socket(self, request: web.Request, on_op: Any) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            async for m in ws:
                if m.type != WSMsgType.TEXT:
                    continue
                if m.data == "ping":
                    await ws.send_str("pong")
                    continue
                try:
                    req = orjson.loads(m.data)
                except orjson.JSONDecodeError:
                    await ws.send_str(
                        orjson.dumps({"event": "error", "code": "60012", "msg": "Invalid request"}).decode()
                    )
                    continue
                await on_op(ws, req)
        finally:
            self.sockets.discard(ws)
            for private in (self.order_subs, self.position_subs, self.account_subs):
                private.discard(ws)
            for subs in (*self.book_subs.values(), *self.trade_subs.values()):
                subs.discard(ws)
        return ws

    async def _public(self, request: web.Request) -> web.WebSocketResponse:
        return await self._socket(request, self._public_op)

    async def _private(self, request: web.Request) -> web.WebSocketResponse:
        logged_in: set[int] = set()

        async def op(ws: web.WebSocketResponse, req: dict[str, Any]) -> None:
            await self._private_op(ws, req, logged_in)

        return await self._socket(request, op)

    async def _public_op(self, ws: web.WebSocketResponse, req: dict[str, Any]) -> None:
        for arg in req.get("args", []):
            channel, inst_id = arg.get("channel"), arg.get("instId", "")
            table = {"books": self.book_subs, "trades": self.trade_subs}.get(channel)
            if table is None or inst_id not in self.st.books:
                err = {
                    "event": "error",
                    "code": "60018",
                    "msg": f"Wrong URL or channel:{channel},instId:{inst_id}",
                }
                await ws.send_str(orjson.dumps(err).decode())
                continue
            if req.get("op") == "unsubscribe":
                table.get(inst_id, set()).discard(ws)
                await ws.send_str(orjson.dumps({"event": "unsubscribe", "arg": arg, "connId": "1"}).decode())
                continue
            table.setdefault(inst_id, set()).add(ws)
            await ws.send_str(
                orjson.dumps(
                    {"id": req.get("id", ""), "event": "subscribe", "arg": arg, "connId": "1"}
                ).decode()
            )
            if channel == "books":
                self._snapshot(ws, self.st.books[inst_id])

    async def _private_op(self, ws: web.WebSocketResponse, req: dict[str, Any], logged_in: set[int]) -> None:
        if req.get("op") == "login":
            a = (req.get("args") or [{}])[0]
            ts = str(a.get("timestamp", ""))
            good = (
                a.get("apiKey") == DEMO_KEY
                and a.get("passphrase") == DEMO_PASSPHRASE
                and ts.isdigit()
                and abs(int(ts) * 1000 - self.now_ms()) <= 30_000
                and sign_b64(DEMO_SECRET, f"{ts}GET/users/self/verify") == a.get("sign")
            )
            if not good:
                await ws.send_str(
                    orjson.dumps({"event": "error", "code": "60009", "msg": "Login failed."}).decode()
                )
                await ws.close(code=4001)
                return
            logged_in.add(1)
            await ws.send_str(
                orjson.dumps({"event": "login", "code": "0", "msg": "", "connId": "1"}).decode()
            )
            return
        if not logged_in:
            await ws.send_str(
                orjson.dumps({"event": "error", "code": "60011", "msg": "Please log in"}).decode()
            )
            return
        if req.get("op") in WS_ORDER_OPS:
            await ws.send_str(orjson.dumps(self._ws_order_op(req)).decode())
            return
        tables = {"orders": self.order_subs, "positions": self.position_subs, "account": self.account_subs}
        for arg in req.get("args", []):
            table = tables.get(arg.get("channel"))
            if table is None:
                await ws.send_str(
                    orjson.dumps({"event": "error", "code": "60018", "msg": "Wrong channel"}).decode()
                )
                continue
            table.add(ws)
            await ws.send_str(
                orjson.dumps(
                    {"id": req.get("id", ""), "event": "subscribe", "arg": arg, "connId": "1"}
                ).decode()
            )
            if arg["channel"] == "positions":  # OKX pushes the current state on subscription
                rows = self.st.position_rows(self.now_ms())
                await ws.send_str(orjson.dumps(self._positions_msg(rows, "snapshot")).decode())
            elif arg["channel"] == "account":
                await ws.send_str(orjson.dumps(self._account_msg("snapshot")).decode())
