"""The Bybit v5 simulator server: REST under /v5 in Bybit's envelope, the public streams
(`/v5/public/spot`, `/v5/public/linear`: orderbook.N snapshot/delta with `u`/`seq`, publicTrade) and the
private stream (`/v5/private`: auth, order, execution, position, wallet, dcp) and the trade WebSocket
(`/v5/trade`, with DCP: `trade.py`). Linear positions pay or receive funding every `funding_interval_s`
(Bybit: 8 h).

Signatures are checked independently (stdlib hmac over `timestamp + key + recvWindow + payload`): the body
as received (POST); the query as received, percent-decoded (GET: pybit signs its `k=v&...` unencoded and
its transport, `requests`, percent-encodes what a URL cannot carry; `+` stays `+`). Every answer carries
the per-UID limit headers (`X-Bapi-Limit`, `X-Bapi-Limit-Status`, `X-Bapi-Limit-Reset-Timestamp`); a
breach is retCode 10006.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any
from urllib.parse import unquote

import orjson
from aiohttp import WSMsgType, web

from trader.clock import Clock
from trader.sim.auth import hmac_sha256_hex
from trader.sim.bybit.exchange import Book, Exchange
from trader.sim.bybit.state import (
    DEFAULT_LIMIT,
    DEMO_KEY,
    DEMO_SECRET,
    INVALID_KEY,
    LIMITS,
    MAX_BATCH,
    PARAMS,
    SIGN_ERROR,
    TIME_WINDOW,
    TOO_MANY,
    ApiError,
)
from trader.sim.bybit.trade import Dcp, TradeDesk
from trader.sim.server import VenueServer

Handler = Callable[[dict[str, Any]], Any]
DEPTH = 50
EXT = "__retExtInfo__"  # a handler's per-item codes (batches), moved into the envelope


class BybitSimServer(VenueServer):
    FAULT_PATHS = ("POST /v5/order/create", "POST /v5/order/cancel")  # `/sim/faults` without paths
    venue = "bybit"

    def __init__(
        self,
        *,
        seed: int = 7,
        clock: Clock | None = None,
        step_ms: int = 100,
        funding_interval_s: float = 8 * 3600,
        symbol: str = "BTCUSDT",
        dcp_enabled: bool = False,
    ) -> None:
        super().__init__(seed=seed, clock=clock, step_ms=step_ms)
        if symbol not in {s for _, s in Exchange.listed()}:
            raise ValueError(f"{symbol} is not listed (the simulator lists BTCUSDT and ETHUSDT)")
        self._symbol = symbol
        self.funding_interval_ns = int(funding_interval_s * 1e9)
        self._until_funding_ns = self.funding_interval_ns
        self.ex = Exchange(seed, self._now_ms)
        self.keys = {DEMO_KEY: DEMO_SECRET}
        self._calls: dict[tuple[str, str], list[int]] = {}  # (key, path) -> request times (ms)
        self.public: dict[web.WebSocketResponse, set[str]] = {}  # topics as "category:topic"
        self.private: dict[web.WebSocketResponse, set[str]] = {}
        self._published: dict[tuple[str, str], tuple[dict[int, int], dict[int, int]]] = {}
        self.snapshots = 0
        self.ack_delay_s = 0.02  # subscription answers come a round trip later (`_later`)
        self._gaps: set[tuple[str, str]] = set()  # books whose next delta skips an update id
        self.trade = TradeDesk(self)
        self.dcp = Dcp(self, dcp_enabled)

    def _now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    @property
    def default_symbol(self) -> str:
        return self._symbol

    def routes(self) -> list[web.RouteDef]:
        ex = self.ex
        signed_get: dict[str, Handler] = {
            "/v5/order/realtime": self._realtime,
            "/v5/order/history": self._history,
            "/v5/execution/list": self._executions,
            "/v5/account/wallet-balance": lambda p: ex.account.wallet(ex.locked()),
            "/v5/position/list": self._positions,
            "/v5/account/query-dcp-info": self.dcp.info,
        }
        signed_post: dict[str, Handler] = {
            "/v5/order/create": self._create,
            "/v5/order/cancel": self._cancel,
            "/v5/order/cancel-all": self._cancel_all,
            "/v5/order/amend": self._amend,
            "/v5/order/create-batch": lambda p: self._batch(p, self._create),
            "/v5/order/amend-batch": lambda p: self._batch(p, self._amend),
            "/v5/order/cancel-batch": lambda p: self._batch(p, self._cancel),
            "/v5/order/disconnected-cancel-all": self.dcp.configure,
        }
        public: dict[str, Handler] = {
            "/v5/market/time": self._time,
            "/v5/market/instruments-info": self._instruments,
            "/v5/market/orderbook": self._orderbook,
        }
        out = [web.get(p, self._wrap(h, signed=False)) for p, h in public.items()]
        out += [web.get(p, self._wrap(h, signed=True)) for p, h in signed_get.items()]
        out += [web.post(p, self._wrap(h, signed=True)) for p, h in signed_post.items()]
        out += [web.get("/v5/public/{category}", self._public_ws), web.get("/v5/private", self._private_ws)]
        out.append(web.get("/v5/trade", self._trade_ws))
        return out

    # ---- REST plumbing ----------------------------------------------------------------------------

    def _envelope(
        self, code: int, msg: str, result: Any, headers: dict[str, str], status: int = 200, ext: Any = None
    ) -> web.Response:
        body = {
            "retCode": code,
            "retMsg": msg,
            "result": result,
            "retExtInfo": ext or {},
            "time": self._now_ms(),
        }
        return web.Response(
            body=orjson.dumps(body), status=status, content_type="application/json", headers=headers
        )

    def _authenticate(self, request: web.Request, payload: str) -> str:
        h = request.headers
        key = h.get("X-BAPI-API-KEY", "")
        secret = self.keys.get(key)
        if secret is None:
            raise ApiError(INVALID_KEY, "API key is invalid.")  # HTTP 200; 401 only without headers
        ts, window = h.get("X-BAPI-TIMESTAMP", ""), h.get("X-BAPI-RECV-WINDOW", "5000")
        if not ts.isdigit() or not window.isdigit():
            raise ApiError(PARAMS, "params error: timestamp or recv_window", 400)
        now = self._now_ms()
        if not now - int(window) <= int(ts) < now + 1000:
            raise ApiError(
                TIME_WINDOW, "invalid request, please check your server timestamp or recv_window param"
            )
        if not hmac_sha256_hex(secret.encode(), ts + key + window + payload, h.get("X-BAPI-SIGN", "")):
            raise ApiError(SIGN_ERROR, "error sign! origin_string[" + ts + key + window + "...]")
        return key

    def _limit(self, key: str, path: str, category: str) -> dict[str, str]:
        now = self._now_ms()
        limit = LIMITS.get((category, path), DEFAULT_LIMIT)
        calls = [t for t in self._calls.get((key, path), []) if t > now - 1000]
        calls.append(now)
        self._calls[(key, path)] = calls
        headers = {
            "X-Bapi-Limit": str(limit),
            "X-Bapi-Limit-Status": str(max(0, limit - len(calls))),
            "X-Bapi-Limit-Reset-Timestamp": str(calls[0] + 1000),
        }
        if len(calls) > limit:
            raise ApiError(TOO_MANY, "Too many visits!")
        return headers

    def _wrap(self, fn: Handler, *, signed: bool) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            headers: dict[str, str] = {}
            try:
                if request.method == "GET":
                    query = request.raw_path.partition("?")[2]
                    raw = unquote(query)  # percent-decoded, `+` kept: what pybit signs
                    params: dict[str, Any] = {
                        unquote(k): unquote(v)
                        for k, _, v in (kv.partition("=") for kv in query.split("&") if kv)
                    }
                else:
                    raw = (await request.read()).decode()
                    params = orjson.loads(raw) if raw.strip() else {}
                    if not isinstance(params, dict):
                        raise ApiError(PARAMS, "params error: body is not an object")
                if signed:
                    key = self._authenticate(request, raw)
                    headers = self._limit(key, request.path, str(params.get("category", "")))
                result = fn(params)
            except ApiError as e:
                return self._envelope(e.code, e.msg, {}, headers, e.status)
            except orjson.JSONDecodeError:
                return self._envelope(PARAMS, "params error: body is not JSON", {}, headers)
            finally:
                self._publish_private()
            ext = result.pop(EXT, {}) if isinstance(result, dict) else {}
            return self._envelope(0, "OK", result, headers, ext=ext)

        return handle

    # ---- REST handlers ----------------------------------------------------------------------------

    def _time(self, p: dict[str, Any]) -> dict[str, Any]:
        ns = self.clock.now_ns()
        return {"timeSecond": str(ns // 1_000_000_000), "timeNano": str(ns)}

    def _instruments(self, p: dict[str, Any]) -> dict[str, Any]:
        category = p.get("category")
        if category not in ("spot", "linear"):
            raise ApiError(PARAMS, "params error: category only spot and linear are simulated")
        minutes = max(1, self.funding_interval_ns // 60_000_000_000)
        rows = [
            b.inst.info(minutes)
            for (c, s), b in self.ex.books.items()
            if c == category and p.get("symbol") in (None, s)
        ]
        return {"category": category, "list": rows, "nextPageCursor": ""}

    def _positions(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get("category") != "linear":
            raise ApiError(PARAMS, "params error: position/list is for derivatives (category linear)")
        ex = self.ex
        rows = [
            pos.json(ex.books[("linear", s)].inst, ex.mark(s))
            for s, pos in ex.positions.items()
            if p.get("symbol") in (None, s)
        ]
        return {"category": "linear", "list": rows, "nextPageCursor": ""}

    def _levels(self, b: Book, n: int) -> tuple[list[list[str]], list[list[str]]]:
        bids, asks = b.engine.depth(n)
        inst = b.inst
        return (
            [[inst.price_text(p), inst.qty_text(q)] for p, q in bids],
            [[inst.price_text(p), inst.qty_text(q)] for p, q in asks],
        )

    def _orderbook(self, p: dict[str, Any]) -> dict[str, Any]:
        b = self.ex.book(str(p.get("category", "")), str(p.get("symbol", "")))
        bids, asks = self._levels(b, int(p.get("limit", 1)))
        now = self._now_ms()
        return {"s": b.inst.symbol, "b": bids, "a": asks, "ts": now, "u": b.u, "seq": b.seq, "cts": now}

    def _create(self, p: dict[str, Any]) -> dict[str, Any]:
        o = self.ex.create(p)
        return {"orderId": o.order_id, "orderLinkId": o.link_id}

    def _cancel(self, p: dict[str, Any]) -> dict[str, Any]:
        o = self.ex.cancel(p)
        return {"orderId": o.order_id, "orderLinkId": o.link_id}

    def _amend(self, p: dict[str, Any]) -> dict[str, Any]:
        o = self.ex.amend(p)
        return {"orderId": o.order_id, "orderLinkId": o.link_id}

    def _batch(self, p: dict[str, Any], one: Handler) -> dict[str, Any]:
        """Each item on its own: its result in `result.list`, its code in `retExtInfo.list`."""
        category, items = str(p.get("category", "")), p.get("request")
        if not isinstance(items, list) or not 0 < len(items) <= MAX_BATCH.get(category, 0):
            raise ApiError(
                PARAMS, f"params error: request must hold 1 to {MAX_BATCH.get(category, 0)} orders"
            )
        rows: list[dict[str, Any]] = []
        codes: list[dict[str, Any]] = []
        for item in items:
            req = {"category": category, **(item if isinstance(item, dict) else {})}
            row = {
                "category": category,
                "symbol": req.get("symbol", ""),
                "orderId": "",
                "orderLinkId": req.get("orderLinkId", ""),
            }
            try:
                row |= one(req)
                codes.append({"code": 0, "msg": "OK"})
            except ApiError as e:
                codes.append({"code": e.code, "msg": e.msg})
            rows.append(row)
        return {"list": rows, EXT: {"list": codes}}

    def _cancel_all(self, p: dict[str, Any]) -> dict[str, Any]:
        rows = self.ex.cancel_all(str(p.get("category", "")), str(p.get("symbol") or ""))
        return {"list": [{"orderId": o.order_id, "orderLinkId": o.link_id} for o in rows], "success": "1"}

    def _select(self, p: dict[str, Any], open_only: bool) -> dict[str, Any]:
        ex = self.ex
        if p.get("orderId") or p.get("orderLinkId"):
            try:
                rows = [ex.find(p)]
            except ApiError:
                rows = []
        else:
            rows = [
                o
                for o in ex.orders.values()
                if o.open == open_only
                and p.get("symbol") in (None, o.symbol)
                and o.category == p.get("category")
            ]
        rows.sort(key=lambda o: o.created_ms, reverse=True)
        limit = int(p.get("limit", 20))
        return {
            "category": p.get("category", ""),
            "list": [o.json(ex.of(o).inst) for o in rows[:limit]],
            "nextPageCursor": "",
        }

    def _realtime(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._select(p, str(p.get("openOnly", "0")) == "0")

    def _history(self, p: dict[str, Any]) -> dict[str, Any]:
        return self._select(p, False)

    def _executions(self, p: dict[str, Any]) -> dict[str, Any]:
        start, ex = int(p.get("startTime", 0)), self.ex
        rows = [x.json(ex.of(x.order).inst) for x in ex.executions if x.order.category == p.get("category")]
        if p.get("category") == "linear":
            rows = sorted([*rows, *ex.fundings], key=lambda r: int(r["execTime"]))
        rows = [
            r
            for r in rows
            if int(r["execTime"]) >= start
            and p.get("symbol") in (None, r["symbol"])
            and p.get("orderLinkId") in (None, r["orderLinkId"])
            and p.get("execType") in (None, r["execType"])
        ]
        limit, skip = int(p.get("limit", 50)), int(p.get("cursor") or 0)
        newest_first = rows[::-1]
        page = newest_first[skip : skip + limit]
        more = str(skip + limit) if skip + limit < len(newest_first) else ""
        return {"category": p.get("category", ""), "list": page, "nextPageCursor": more}

    # ---- streams ----------------------------------------------------------------------------------

    async def _serve_ws(
        self,
        request: web.Request,
        on_msg: Callable[[web.WebSocketResponse, dict[str, Any]], None],
        table: dict[web.WebSocketResponse, set[str]],
        pong: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
        on_close: Callable[[web.WebSocketResponse], None] | None = None,
        own_pings: bool = False,
    ) -> web.WebSocketResponse:
        """One connection: `on_msg` gets every JSON frame but pings, answered here (`pong`: the answer's
        shape; else the public streams' `ret_msg: pong`) unless `own_pings`."""
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self.sockets.add(ws)
        try:
            async for m in ws:
                if m.type != WSMsgType.TEXT:
                    continue
                with contextlib.suppress(orjson.JSONDecodeError, AttributeError, TypeError):
                    msg = orjson.loads(m.data)
                    if msg.get("op") == "ping" and own_pings:
                        on_msg(ws, msg)
                    elif msg.get("op") == "ping" and pong is not None:
                        self.send(ws, orjson.dumps(pong(msg)))
                    elif msg.get("op") == "ping":
                        self.send(
                            ws,
                            orjson.dumps(
                                {"success": True, "ret_msg": "pong", "op": "ping", "conn_id": "sim"}
                            ),
                        )
                    else:
                        on_msg(ws, msg)
        finally:
            self.sockets.discard(ws)
            table.pop(ws, None)
            if on_close is not None:
                on_close(ws)
        return ws

    async def _public_ws(self, request: web.Request) -> web.WebSocketResponse:
        category = request.match_info["category"]
        if category not in ("spot", "linear"):
            raise web.HTTPNotFound()
        return await self._serve_ws(request, lambda ws, m: self._public_msg(ws, m, category), self.public)

    def _public_msg(self, ws: web.WebSocketResponse, msg: dict[str, Any], category: str) -> None:
        """Topics are kept as "category:topic" (spot and linear name their topics alike)."""
        topics = [f"{category}:{t}" for t in msg.get("args") or []]
        op = msg.get("op")
        if op not in ("subscribe", "unsubscribe"):
            return
        reply = {"success": True, "ret_msg": "", "conn_id": "sim", "req_id": msg.get("req_id", ""), "op": op}
        if op == "unsubscribe":
            self.public.setdefault(ws, set()).difference_update(topics)
            self.send(ws, orjson.dumps(reply))
            return

        def answer() -> None:  # subscribed from the answer on: no delta before its snapshot
            if ws.closed:
                return
            self.public.setdefault(ws, set()).update(topics)
            self.send(ws, orjson.dumps(reply))
            for t in topics:
                parts = t.split(":", 1)[1].split(".")
                if parts[0] == "orderbook" and len(parts) == 3 and (category, parts[2]) in self.ex.books:
                    self._snapshot(ws, self.ex.books[(category, parts[2])], int(parts[1]))

        self._later(answer)

    def _later(self, answer: Callable[[], None]) -> None:
        """A subscription is answered after a network round trip, as the venue's is (pybit records a
        subscription only after sending it: an instant answer from loopback races it)."""
        asyncio.get_running_loop().call_later(self.ack_delay_s, answer)

    def _snapshot(self, ws: web.WebSocketResponse, b: Book, depth: int) -> None:
        # the levels the next delta is computed against (the book may have moved since the last publish:
        # a level sent from the live book but absent there would never be removed)
        key, inst = (b.inst.category, b.inst.symbol), b.inst
        if key not in self._published:
            levels = b.engine.depth(DEPTH)
            self._published[key] = (dict(levels[0]), dict(levels[1]))
        pub = self._published[key]
        bids, asks = (
            [[inst.price_text(p), inst.qty_text(q)] for p, q in list(side.items())[:depth]] for side in pub
        )
        self.snapshots += 1
        data = {"s": b.inst.symbol, "b": bids, "a": asks, "u": b.u, "seq": b.seq}
        now = self._now_ms()
        self.send(
            ws,
            orjson.dumps(
                {
                    "topic": f"orderbook.{depth}.{b.inst.symbol}",
                    "type": "snapshot",
                    "ts": now,
                    "data": data,
                    "cts": now,
                }
            ),
        )

    def _private_msg(self, ws: web.WebSocketResponse, msg: dict[str, Any]) -> None:
        op, args = msg.get("op"), msg.get("args") or []
        if op == "auth":
            ok = False
            with contextlib.suppress(ValueError, TypeError, IndexError):
                key, expires, sig = str(args[0]), int(args[1]), str(args[2])
                secret = self.keys.get(key)
                ok = (
                    secret is not None
                    and expires > self._now_ms()
                    and hmac_sha256_hex(secret.encode(), f"GET/realtime{expires}", sig)
                )
            if ok:
                self.private[ws] = set()
            self.send(
                ws,
                orjson.dumps(
                    {"success": ok, "ret_msg": "" if ok else "Invalid sign", "op": "auth", "conn_id": "sim"}
                ),
            )
        elif op == "subscribe":
            ok = ws in self.private
            if ok:
                self.private[ws].update(str(a) for a in args)
                self.dcp.subscribed(self.private[ws])
            reply = {
                "success": ok,
                "ret_msg": "" if ok else "Request not authorized",
                "op": "subscribe",
                "conn_id": "sim",
                "req_id": msg.get("req_id", ""),
            }
            self._later(lambda: self.send(ws, orjson.dumps(reply)))

    async def _private_ws(self, request: web.Request) -> web.WebSocketResponse:
        def pong(msg: dict[str, Any]) -> dict[str, Any]:  # private: `op: pong` with the time
            return {
                "req_id": msg.get("req_id", ""),
                "op": "pong",
                "args": [str(self._now_ms())],
                "conn_id": "sim",
            }

        return await self._serve_ws(request, self._private_msg, self.private, pong)

    async def _trade_ws(self, request: web.Request) -> web.WebSocketResponse:
        """Order entry (`trade.TradeDesk`); its pings are answered by the desk (`op: pong`)."""
        return await self._serve_ws(
            request, self.trade.message, {}, on_close=self.trade.closed, own_pings=True
        )

    def _publish_private(self) -> None:
        events, self.ex.events = self.ex.events, []
        now = self._now_ms()
        for topic, row in events:
            if topic == "wallet":
                row = self.ex.account.wallet(self.ex.locked())["list"][0]
            frame = orjson.dumps({"id": f"sim-{now}", "topic": topic, "creationTime": now, "data": [row]})
            for ws, topics in list(self.private.items()):
                if topic in topics:
                    self.send(ws, frame)

    def _deltas(self, b: Book) -> tuple[list[list[str]], list[list[str]]] | None:
        bids, asks = b.engine.depth(DEPTH)
        new = (dict(bids), dict(asks))
        key = (b.inst.category, b.inst.symbol)
        old = self._published.get(key, ({}, {}))
        self._published[key] = new
        out: list[list[list[str]]] = []
        for o, n in zip(old, new, strict=True):
            side = [[b.inst.price_text(p), b.inst.qty_text(q)] for p, q in n.items() if o.get(p) != q]
            side += [[b.inst.price_text(p), "0"] for p in o if p not in n]
            out.append(side)
        return (out[0], out[1]) if out[0] or out[1] else None

    def _publish_public(self) -> None:
        now = self._now_ms()
        if self.faults.sequence_gap:  # every book's chain breaks at its next delta
            self.faults.sequence_gap = False
            self._gaps = set(self.ex.books)
        for (category, symbol), b in self.ex.books.items():
            topic = f"orderbook.{DEPTH}.{symbol}"
            delta = self._deltas(b)
            if delta is not None and not self.faults.stale_feed:
                b.u += 2 if (category, symbol) in self._gaps else 1
                self._gaps.discard((category, symbol))
                b.seq += 1
                data = {"s": symbol, "b": delta[0], "a": delta[1], "u": b.u, "seq": b.seq}
                frame = orjson.dumps({"topic": topic, "type": "delta", "ts": now, "data": data, "cts": now})
                self._fan_out(f"{category}:{topic}", frame)
        trades, self.ex.trades = self.ex.trades, []
        for (category, symbol), t in trades:
            inst = self.ex.books[(category, symbol)].inst
            row = {
                "T": now,
                "s": symbol,
                "S": "Buy" if t.taker_side.value == "BUY" else "Sell",
                "v": inst.qty_text(t.qty),
                "p": inst.price_text(t.price),
                "L": "PlusTick",
                "i": str(t.trade_id),
                "BT": False,
            }
            self._fan_out(
                f"{category}:publicTrade.{symbol}",
                orjson.dumps(
                    {"topic": f"publicTrade.{symbol}", "type": "snapshot", "ts": now, "data": [row]}
                ),
            )

    def _fan_out(self, topic: str, frame: bytes) -> None:
        for ws, topics in list(self.public.items()):
            if topic in topics:
                self.send(ws, frame)

    def on_step(self, dt_ns: int) -> None:
        self.ex.step(dt_ns)
        self._until_funding_ns -= dt_ns
        if self._until_funding_ns <= 0:
            self._until_funding_ns += self.funding_interval_ns
            self.ex.settle_funding()
        self.dcp.step()
        self._publish_public()
        self._publish_private()

    def state(self) -> dict[str, Any]:
        ex = self.ex
        return {
            "orders": [o.json(ex.of(o).inst) for o in ex.orders.values()],
            "positions": {s: p.size for s, p in ex.positions.items()},
            "fundings": len(ex.fundings),
            "executions": len(ex.executions),
            "coins": {c: str(v) for c, v in ex.account.coins.items()},
            "snapshots": self.snapshots,
            "dcp": {"windows": dict(self.dcp.windows), "fired": self.dcp.fired},
            "trade_ops": self.trade.ops,
        }

    def balance(self, coin: str) -> Decimal:
        return self.ex.account.coins.get(coin, Decimal(0))
