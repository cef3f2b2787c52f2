"""The Bybit simulator's trade WebSocket (`/v5/trade`) and disconnect cancel protection (DCP).

Trade WebSocket (bybit.md §5; pybit `_V5TradeWebSocketManager`): `op: auth` (args `[key, expires,
signature]`, answered `{"retCode": 0, "retMsg": "OK", "op": "auth", "connId"}`; 10004 a bad signature,
10001 malformed args, 20001 a repeated auth), `op: ping` (answered `op: pong` with the time), and the order
ops `order.create|amend|cancel` (one item in `args`) and `order.create-batch|amend-batch|cancel-batch`
(`args: [{"category", "request": [...]}]`). Each op needs `header.X-BAPI-TIMESTAMP` inside the recv window
(10002), a fresh `reqId` on the connection (20006 a duplicate), a known op and category (10404); it runs
the REST handlers and answers `{"reqId", "retCode", "retMsg", "op", "data", "retExtInfo", "header":
{"X-Bapi-Limit", "X-Bapi-Limit-Status", "X-Bapi-Limit-Reset-Timestamp", "Traceid", "Timenow"}, "connId"}`.
An op before the login is refused with 10003 (the venue's code for it is not documented; unverified).

DCP, on an account Bybit enabled it on (`dcp_enabled`: SPOT and DERIVATIVES, 10 s by default): `GET
/v5/account/query-dcp-info` lists the products (`dcpStatus` ON, `timeWindow`; an account without DCP reads
an empty list), `POST /v5/order/disconnected-cancel-all` (`product` OPTIONS | DERIVATIVES | SPOT,
`timeWindow` 3..300 s) sets a window (an account without DCP is refused with 10005, unverified). Once a
private connection subscribed to `dcp` (or `dcp.spot` / `dcp.future`) was seen, the moment none is left
starts the window; still none after `timeWindow`: every open order of the product is cancelled
(`fired`). A reconnect that subscribes again within the window stops the count.
"""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from trader.sim.auth import hmac_sha256_hex
from trader.sim.bybit.state import PARAMS, SIGN_ERROR, TIME_WINDOW, ApiError

if TYPE_CHECKING:
    from trader.sim.bybit.server import BybitSimServer, Handler

REPEAT_AUTH = 20001
DUPLICATE_REQ_ID = 20006
NOT_FOUND = 10404
NOT_AUTHED = 10003
NO_PERMISSION = 10005
CATEGORIES = ("spot", "linear")
DCP_PRODUCTS = {"SPOT": ("spot",), "DERIVATIVES": ("linear",), "OPTIONS": ()}
DCP_TOPICS = {
    "SPOT": ("dcp", "dcp.spot"),
    "DERIVATIVES": ("dcp", "dcp.future"),
    "OPTIONS": ("dcp", "dcp.option"),
}


class TradeDesk:
    """The `/v5/trade` connections of one simulator: their logins, reqIds, and the ops they send."""

    def __init__(self, server: BybitSimServer) -> None:
        self.s = server
        self.keys: dict[web.WebSocketResponse, str] = {}  # logged-in connection -> api key
        self.req_ids: dict[web.WebSocketResponse, set[str]] = {}
        self.ops = 0
        self.drop_answers = 0  # the next N ops run but their answers are lost (a lost-answer fault)

    def handlers(self) -> dict[str, tuple[str, Handler]]:
        s = self.s
        return {
            "order.create": ("/v5/order/create", s._create),
            "order.amend": ("/v5/order/amend", s._amend),
            "order.cancel": ("/v5/order/cancel", s._cancel),
            "order.create-batch": ("/v5/order/create-batch", lambda p: s._batch(p, s._create)),
            "order.amend-batch": ("/v5/order/amend-batch", lambda p: s._batch(p, s._amend)),
            "order.cancel-batch": ("/v5/order/cancel-batch", lambda p: s._batch(p, s._cancel)),
        }

    def closed(self, ws: web.WebSocketResponse) -> None:
        self.keys.pop(ws, None)
        self.req_ids.pop(ws, None)

    def message(self, ws: web.WebSocketResponse, msg: dict[str, Any]) -> None:
        op = msg.get("op")
        if op == "auth":
            self._auth(ws, msg)
        elif op == "ping":
            self._send(ws, {"retCode": 0, "retMsg": "OK", "op": "pong", "data": [str(self.s._now_ms())]})
        else:
            self._op(ws, msg)
            self.s._publish_private()

    def _send(self, ws: web.WebSocketResponse, body: dict[str, Any], *, later: bool = False) -> None:
        """An answer; an op's comes a network round trip later (`later`), as the venue's does: pybit
        records an op's callback only after sending it, so an instant answer from loopback races it (and
        the private stream's events of the op overtake its answer, as they can at the venue)."""
        frame = orjson.dumps({**body, "connId": f"sim-trade-{id(ws) % 10_000}"})
        if later:
            self.s._later(lambda: self.s.send(ws, frame))
        else:
            self.s.send(ws, frame)

    def _auth(self, ws: web.WebSocketResponse, msg: dict[str, Any]) -> None:
        rid = {"reqId": msg["reqId"]} if "reqId" in msg else {}
        code, text = 0, "OK"
        try:
            key, expires, sig = str(msg["args"][0]), int(msg["args"][1]), str(msg["args"][2])
        except (KeyError, IndexError, TypeError, ValueError):
            code, text = PARAMS, "param error"
        else:
            secret = self.s.keys.get(key)
            if ws in self.keys:
                code, text = REPEAT_AUTH, "repeat auth"
            elif (
                secret is None
                or expires <= self.s._now_ms()
                or not hmac_sha256_hex(secret.encode(), f"GET/realtime{expires}", sig)
            ):
                code, text = SIGN_ERROR, "Invalid sign"
            else:
                self.keys[ws] = key
                self.req_ids[ws] = set()
        self._send(ws, {**rid, "retCode": code, "retMsg": text, "op": "auth"})

    def _op(self, ws: web.WebSocketResponse, msg: dict[str, Any]) -> None:
        op, rid = str(msg.get("op", "")), msg.get("reqId")
        head = {"reqId": rid} if rid is not None else {}
        try:
            data, ext, headers = self._run(ws, op, rid, msg)
        except ApiError as e:
            answer = {**head, "retCode": e.code, "retMsg": e.msg, "op": op, "data": {}, "retExtInfo": {}}
            self._send(ws, answer, later=True)
            return
        self.ops += 1
        if self.drop_answers > 0:
            self.drop_answers -= 1
            return
        body = {"retCode": 0, "retMsg": "OK", "op": op, "data": data, "retExtInfo": ext, "header": headers}
        self._send(ws, {**head, **body}, later=True)

    def _run(
        self, ws: web.WebSocketResponse, op: str, rid: Any, msg: dict[str, Any]
    ) -> tuple[Any, Any, dict[str, str]]:
        key = self.keys.get(ws)
        if key is None:
            raise ApiError(NOT_AUTHED, "Request not authorized")
        if rid is not None:
            if str(rid) in self.req_ids[ws]:
                raise ApiError(DUPLICATE_REQ_ID, "reqId is duplicated")
            self.req_ids[ws].add(str(rid))
        handler = self.handlers().get(op)
        if handler is None:
            raise ApiError(NOT_FOUND, f"op {op} is not found")
        header, args = msg.get("header"), msg.get("args")
        if not isinstance(header, dict) or not isinstance(args, list) or len(args) != 1:
            raise ApiError(PARAMS, "params error: header and one item in args")
        self._check_time(header)
        params = args[0] if isinstance(args[0], dict) else {}
        category = str(params.get("category", ""))
        if category not in CATEGORIES:
            raise ApiError(NOT_FOUND, f"category {category} is not supported")
        path, fn = handler
        headers = self.s._limit(key, path, category)
        result = fn(params)
        ext = result.pop("__retExtInfo__", {}) if isinstance(result, dict) else {}
        now = str(self.s._now_ms())
        return result, ext, {**headers, "Traceid": f"sim{self.ops}", "Timenow": now}

    def _check_time(self, header: dict[str, Any]) -> None:
        ts, window = str(header.get("X-BAPI-TIMESTAMP", "")), str(header.get("X-BAPI-RECV-WINDOW", "5000"))
        if not ts.isdigit() or not window.isdigit():
            raise ApiError(PARAMS, "params error: X-BAPI-TIMESTAMP")
        now = self.s._now_ms()
        if not now - int(window) <= int(ts) < now + 1000:
            raise ApiError(TIME_WINDOW, "invalid request, please check your server timestamp or recv_window")


class Dcp:
    """Disconnect cancel protection of the simulator's one account."""

    def __init__(self, server: BybitSimServer, enabled: bool) -> None:
        self.s = server
        self.enabled = enabled
        self.windows: dict[str, int] = {"SPOT": 10, "DERIVATIVES": 10} if enabled else {}  # product -> s
        self._watched: set[str] = set()  # products whose dcp subscriber was seen
        self._gone_since: dict[str, int] = {}  # product -> ms when its last dcp subscriber went
        self.fired = 0

    def info(self, p: dict[str, Any]) -> dict[str, Any]:
        rows = [{"product": k, "dcpStatus": "ON", "timeWindow": str(v)} for k, v in self.windows.items()]
        return {"dcpInfos": rows}

    def configure(self, p: dict[str, Any]) -> dict[str, Any]:
        if not self.enabled:
            raise ApiError(NO_PERMISSION, "Permission denied: DCP is not enabled on this account")
        product = str(p.get("product") or "OPTIONS")
        window = p.get("timeWindow")
        if product not in DCP_PRODUCTS:
            raise ApiError(PARAMS, "params error: product")
        with contextlib.suppress(TypeError, ValueError):
            if 3 <= int(str(window)) <= 300:
                self.windows[product] = int(str(window))
                return {}
        raise ApiError(PARAMS, "params error: timeWindow must be in [3, 300]")

    def subscribed(self, topics: set[str]) -> None:
        """A private connection subscribed: DCP watches the products whose `dcp` topic it named."""
        for product, names in DCP_TOPICS.items():
            if topics.intersection(names):
                self._watched.add(product)

    def step(self) -> None:
        now = self.s._now_ms()
        for product, window in self.windows.items():
            topics = DCP_TOPICS[product]
            alive = any(t in subs for subs in self.s.private.values() for t in topics)
            if alive:
                self._watched.add(product)
                self._gone_since.pop(product, None)
                continue
            if product not in self._watched:
                continue
            since = self._gone_since.setdefault(product, now)
            if now - since >= window * 1000:
                self._watched.discard(product)
                self._gone_since.pop(product, None)
                self.fired += 1
                for category in DCP_PRODUCTS[product]:
                    self.s.ex.cancel_all(category, "")
