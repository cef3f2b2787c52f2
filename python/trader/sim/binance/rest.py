"""The REST side: every row of `ops.ROUTES` becomes an aiohttp route with the same wrapper (weight,
signature, Binance error bodies, usage headers), plus the listen-key endpoints and `POST /sim/ban`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl

import orjson
from aiohttp import web

from trader.sim.binance.errors import ApiError, invalid_key
from trader.sim.binance.ops import LISTEN_KEY_PATHS, ROUTES, Route
from trader.sim.binance.signed import rest_auth
from trader.sim.binance.state import FUTURES_MARKET, FUTURES_WALLET, MARGIN_MARKET, Market

if TYPE_CHECKING:
    from trader.sim.binance.server import BinanceSimServer


async def read_params(request: web.Request) -> tuple[dict[str, str], str, str]:
    query = request.raw_path.partition("?")[2]  # as sent: the signature covers the encoded bytes
    body = (await request.read()).decode() if request.can_read_body else ""
    params = dict(parse_qsl(query, keep_blank_values=True))
    params.update(parse_qsl(body, keep_blank_values=True))
    return params, query, body


def error_response(e: ApiError, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps({"code": e.code, "msg": e.msg}),
        status=e.status,
        content_type="application/json",
        headers=headers,
    )


class Rest:
    def __init__(self, sim: BinanceSimServer) -> None:
        self.sim = sim

    def routes(self, markets: tuple[Market, ...]) -> list[web.RouteDef]:
        out = [self._route(r) for r in ROUTES if r.market in markets]
        for market, path in LISTEN_KEY_PATHS:
            if market in markets:
                out += [
                    web.route(m, path, self._listen_key_handler(market)) for m in ("POST", "PUT", "DELETE")
                ]
        return [*out, web.post("/sim/ban", self.ban)]

    def _route(self, r: Route) -> web.RouteDef:
        """A REST route around the row's operation: weight, auth, Binance error bodies, usage headers.
        A new order's answer also carries the order counts of spot and futures."""
        counts = r.method == "POST" and r.path.endswith("/order") and r.market is not MARGIN_MARKET
        sim = self.sim

        async def handler(request: web.Request) -> web.Response:
            headers: dict[str, str] = {}
            try:
                params, query, body = await read_params(request)
                headers = sim.limits.charge(
                    request.path, r.weight(params) if callable(r.weight) else r.weight
                )
                key = ""
                if r.signed:
                    key = request.headers.get("X-MBX-APIKEY", "")
                    rest_auth(sim.spot.accounts, key, params, query, body, sim.now_ms())
                try:
                    result = sim.ops.run(r.op, r.market, params, key)
                finally:
                    if counts and key:
                        headers.update(sim.limits.order_headers(r.market, sim.order_counters(r.market, key)))
            except ApiError as e:
                if e.retry_after:
                    headers["Retry-After"] = str(e.retry_after)
                return error_response(e, headers)
            except ValueError:  # a number that does not parse (limit=abc, orderId=x, ...)
                return error_response(ApiError(-1100, "Illegal characters found in a parameter."), headers)
            return web.Response(body=orjson.dumps(result), content_type="application/json", headers=headers)

        return web.route(r.method, r.path, handler)

    def _listen_key_handler(self, market: Market) -> Callable[[web.Request], Awaitable[web.Response]]:
        sim = self.sim

        async def handler(request: web.Request) -> web.Response:
            """Futures keys are charged (weight 1) and expire; spot and margin keys are neither."""
            key = request.headers.get("X-MBX-APIKEY", "")
            headers: dict[str, str] = {}
            try:
                if market is FUTURES_MARKET:
                    headers = sim.limits.charge(request.path, 1)
                if key not in sim.spot.accounts:
                    raise invalid_key()
                body = sim.user.listen_key(request.method, key, self._wallet(market, request, key))
            except ApiError as e:
                if e.retry_after:
                    headers["Retry-After"] = str(e.retry_after)
                return error_response(e, headers or None)
            if market is not FUTURES_MARKET:
                return web.json_response(body)
            return web.Response(body=orjson.dumps(body), content_type="application/json", headers=headers)

        return handler

    def _wallet(self, market: Market, request: web.Request, key: str) -> str:
        if market is FUTURES_MARKET:
            return FUTURES_WALLET
        if market is not MARGIN_MARKET:
            return "SPOT"
        if not request.path.endswith("/isolated"):
            return "MARGIN"
        wallet = f"ISOLATED:{request.query.get('symbol', '')}"
        if wallet not in self.sim.margin.wallets[key]:
            raise ApiError(-11001, "Isolated margin account does not exist.")
        return wallet

    async def ban(self, request: web.Request) -> web.Response:
        try:
            seconds = int(request.query.get("seconds", "120"))
        except ValueError:
            return web.json_response({"error": "seconds must be an integer"}, status=400)
        self.sim.ban(seconds)
        return web.json_response({"bannedUntil": self.sim.limits.ip_banned_until_ms})
