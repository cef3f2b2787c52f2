"""The WebSocket side: market streams (live SUBSCRIBE / UNSUBSCRIBE / LIST_SUBSCRIPTIONS), user-data
sockets, and one WebSocket API dispatcher for both books.

Spot: `/ws/<stream>`, `/stream?streams=`, `/ws/<listenKey>` (spot or margin), `/ws-api/v3`
(`userDataStream.subscribe.signature`, `userDataStream.subscribe.listenToken` with margin,
`userDataStream.unsubscribe`). Futures:
`/public/...` (depth, bookTicker), `/market/...` (aggTrade, markPrice), `/private/ws?listenKey=..&events=..`
or `/private/ws/<listenKey>` or `/private/stream`, `/ws-fapi/v1` (`userDataStream.start/ping/stop`).
WebSocket API: `{"id","method","params"}` in, `{"id","status","result"|"error","rateLimits"}` out; the
request methods are the REST operations that name them in `ops.ROUTES`, with the same weights.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web

from trader.sim.binance.errors import ApiError, invalid_key
from trader.sim.binance.feeds import Subs
from trader.sim.binance.ops import ws_methods
from trader.sim.binance.signed import ws_auth
from trader.sim.binance.state import FUTURES_MARKET, FUTURES_WALLET, SPOT, SPOT_MARKET, Market, UserKey
from trader.sim.binance.userdata import Subscriber

if TYPE_CHECKING:
    from trader.sim.binance.server import BinanceSimServer

Mine = list[tuple[UserKey, Subscriber]]  # the user-data subscriptions of one WebSocket API socket
FUTURES_USER_STREAM = {
    "userDataStream.start": "POST",
    "userDataStream.ping": "PUT",
    "userDataStream.stop": "DELETE",
}


class Sockets:
    def __init__(self, sim: BinanceSimServer) -> None:
        self.sim = sim
        self.spot_subs: Subs = {}
        self.futures_public_subs: Subs = {}
        self.futures_market_subs: Subs = {}

    async def _open(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20)
        await ws.prepare(request)
        self.sim.sockets.add(ws)
        return ws

    # ---- market streams ----------------------------------------------------------------------------

    async def spot(self, request: web.Request) -> web.WebSocketResponse:
        path = request.match_info.get("streams", "")
        owner = self.sim.user.owner(path, SPOT)
        if owner is not None:  # legacy user data stream (spot or margin listenKey)
            return await self._user(request, owner)
        return await self._streams(request, self.spot_subs, combined=request.path == "/stream")

    async def futures_public(self, request: web.Request) -> web.WebSocketResponse:
        return await self._streams(
            request, self.futures_public_subs, combined=request.path.endswith("/stream")
        )

    async def futures_market(self, request: web.Request) -> web.WebSocketResponse:
        return await self._streams(
            request, self.futures_market_subs, combined=request.path.endswith("/stream")
        )

    async def _streams(self, request: web.Request, subs: Subs, *, combined: bool) -> web.WebSocketResponse:
        """A market-data socket: the given streams, then live SUBSCRIBE / UNSUBSCRIBE / LIST."""
        path = request.match_info.get("streams", "")
        streams = set(request.query.get("streams", "").split("/")) if combined else set(path.split("/"))
        streams.discard("")
        ws = await self._open(request)
        subs[ws] = (streams, combined)
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await self._control(ws, msg.data, streams)
        finally:
            subs.pop(ws, None)
            self.sim.sockets.discard(ws)
        return ws

    @staticmethod
    async def _control(ws: web.WebSocketResponse, data: str, streams: set[str]) -> None:
        try:
            req = orjson.loads(data)
            method, rid = req["method"], req.get("id")
        except (orjson.JSONDecodeError, KeyError, TypeError):
            await ws.send_str('{"error":{"code":2,"msg":"Invalid request"}}')
            return
        if method == "SUBSCRIBE":
            streams.update(req.get("params", []))
            await ws.send_bytes(orjson.dumps({"result": None, "id": rid}))
        elif method == "UNSUBSCRIBE":
            streams.difference_update(req.get("params", []))
            await ws.send_bytes(orjson.dumps({"result": None, "id": rid}))
        elif method == "LIST_SUBSCRIPTIONS":
            await ws.send_bytes(orjson.dumps({"result": sorted(streams), "id": rid}))

    # ---- user data ---------------------------------------------------------------------------------

    async def _user(
        self, request: web.Request, owner: UserKey, events: frozenset[str] | None = None, stream: str = ""
    ) -> web.WebSocketResponse:
        ws = await self._open(request)
        sub = Subscriber(ws, None, events, stream)
        self.sim.user.add(owner, sub)
        try:
            async for _ in ws:
                pass
        finally:
            self.sim.user.discard(owner, sub)
            self.sim.sockets.discard(ws)
        return ws

    async def futures_private(self, request: web.Request) -> web.StreamResponse:
        lk = request.match_info.get("listen_key") or request.query.get("listenKey", "")
        owner = self.sim.user.owner(lk, FUTURES_WALLET)
        if owner is None:
            return self.sim.error_response(ApiError(-1125, "This listenKey does not exist."))
        events_q = request.query.get("events")
        events = frozenset(e for e in events_q.split("/") if e) if events_q else None
        stream = lk if request.path.startswith("/private/stream") else ""
        return await self._user(request, owner, events, stream)

    # ---- WebSocket API -----------------------------------------------------------------------------

    async def spot_api(self, request: web.Request) -> web.WebSocketResponse:
        return await self._api(request, SPOT_MARKET)

    async def futures_api(self, request: web.Request) -> web.WebSocketResponse:
        return await self._api(request, FUTURES_MARKET)

    async def _api(self, request: web.Request, market: Market) -> web.WebSocketResponse:
        ws = await self._open(request)
        mine: Mine = []
        try:
            async for msg in ws:
                if msg.type == WSMsgType.TEXT:
                    await ws.send_bytes(orjson.dumps(self._reply(ws, market, msg.data, mine)))
        finally:
            for owner, sub in mine:
                self.sim.user.discard(owner, sub)
            self.sim.sockets.discard(ws)
        return ws

    def _reply(self, ws: web.WebSocketResponse, market: Market, data: str, mine: Mine) -> dict[str, Any]:
        try:
            req = orjson.loads(data)
            rid, method, params = req.get("id"), req["method"], req.get("params", {})
            if not isinstance(params, dict):
                raise TypeError("params")
        except (orjson.JSONDecodeError, KeyError, TypeError, AttributeError):
            return {"id": None, "status": 400, "error": {"code": -1100, "msg": "Malformed request."}}
        self.sim.requests[f"WS {method}"] += 1  # as HTTP requests are counted ("POST /api/v3/order")
        key = ""
        try:
            result, key = self._call(ws, market, str(method), params, mine)
            reply: dict[str, Any] = {"id": rid, "status": 200, "result": result}
        except ApiError as e:
            error: dict[str, Any] = {"code": e.code, "msg": e.msg}
            if e.retry_after:
                error["data"] = {"retryAfter": self.sim.now_ms() + e.retry_after * 1000}
            reply = {"id": rid, "status": e.status, "error": error}
        counters = self.sim.order_counters(market, key) if key else None
        reply["rateLimits"] = self.sim.limits.ws_rate_limits(market, counters)
        return reply

    def _call(
        self, ws: web.WebSocketResponse, market: Market, method: str, params: dict[str, Any], mine: Mine
    ) -> tuple[Any, str]:
        """Returns (result, the api key of a signed request method or "")."""
        if method.startswith("userDataStream."):
            return self._user_stream(ws, market, method, params, mine), ""
        path = market.order_path
        if method in ("ping", "time"):
            self.sim.limits.charge(path, 1)
            return ({} if method == "ping" else {"serverTime": self.sim.now_ms()}), ""
        found = ws_methods(market).get(method)
        if found is None:
            raise ApiError(-1100, f"Unknown method {method!r}.")
        op, weight = found
        self.sim.limits.charge(path, weight)
        key, _, strs = ws_auth(self.sim.spot.accounts, params, self.sim.now_ms())
        try:
            return self.sim.ops.run(op, market, strs, key), key
        except ApiError:
            raise
        except (ValueError, KeyError) as e:
            raise ApiError(-1100, f"Illegal characters found in a parameter: {e}.") from None

    def _user_stream(
        self, ws: web.WebSocketResponse, market: Market, method: str, params: dict[str, Any], mine: Mine
    ) -> dict[str, Any]:
        """Futures: userDataStream.start/ping/stop (listen keys). Spot: subscribe.signature (the spot
        wallet) and, with margin, subscribe.listenToken (the token's wallet, until it expires)."""
        limits = self.sim.limits
        if market is FUTURES_MARKET:
            limits.charge(market.order_path, 1)
            key = str(params.get("apiKey", ""))
            if key not in self.sim.spot.accounts:
                raise invalid_key()
            if method not in FUTURES_USER_STREAM:
                raise ApiError(-1100, f"Unknown method {method!r}.")
            return self.sim.user.listen_key(FUTURES_USER_STREAM[method], key, FUTURES_WALLET)
        if method == "userDataStream.subscribe.signature":
            limits.charge(market.order_path, 2)
            key, _, _ = ws_auth(self.sim.spot.accounts, params, self.sim.now_ms())
            sub = Subscriber(ws, next(self.sim.user.sub_ids))
            self.sim.user.add((key, SPOT), sub)
            mine.append(((key, SPOT), sub))
            return {"subscriptionId": sub.sub_id}
        if method == "userDataStream.unsubscribe":  # the given subscription, else every one of this socket
            limits.charge(market.order_path, 2)
            wanted = params.get("subscriptionId")
            for owner, sub in [m for m in mine if wanted is None or m[1].sub_id == int(wanted)]:
                self.sim.user.discard(owner, sub)
                mine.remove((owner, sub))
            return {}
        if method == "userDataStream.subscribe.listenToken" and self.sim.has_margin:
            limits.charge(market.order_path, 2)
            owner, sub, expiry = self.sim.user.subscribe_token(ws, str(params.get("listenToken", "")))
            mine.append((owner, sub))
            return {"subscriptionId": sub.sub_id, "expirationTime": expiry}
        raise ApiError(-1100, f"Unknown method {method!r}.")
