"""The OKX simulator's REST API v5: the real paths, the `{"code","msg","data":[...]}` envelope with
per-item `sCode`/`sMsg`, and the OK-ACCESS-* signature checked with the standard library (`verify`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from trader.sim.auth import same_secret
from trader.sim.okx.state import DEMO_KEY, DEMO_PASSPHRASE, DEMO_SECRET, FUNDING_RATE, ApiError, Order

if TYPE_CHECKING:
    from trader.sim.okx.server import OkxSimServer

P = "/api/v5"


def sign_b64(secret: str, prehash: str) -> str:
    return base64.b64encode(hmac.new(secret.encode(), prehash.encode(), hashlib.sha256).digest()).decode()


def ok(data: list[Any], code: str = "0", msg: str = "") -> web.Response:
    return web.Response(
        body=orjson.dumps({"code": code, "msg": msg, "data": data}), content_type="application/json"
    )


def bulk_code(items: list[dict[str, str]]) -> str:
    """A batch's top-level code: 0 all done, 1 all failed, 2 some failed (each item's sCode says)."""
    failed = sum(1 for i in items if i["sCode"] != "0")
    return "0" if not failed else ("1" if failed == len(items) else "2")


def bulk(items: list[dict[str, str]]) -> web.Response:
    code = bulk_code(items)
    return ok(items, code, "" if code == "0" else "Bulk operation partially succeeded")


def fail(e: ApiError) -> web.Response:
    body = {"code": e.code, "msg": e.msg, "data": []}
    return web.Response(body=orjson.dumps(body), status=e.status, content_type="application/json")


class Rest:
    def __init__(self, server: OkxSimServer) -> None:
        self.s = server

    def routes(self) -> list[web.RouteDef]:
        h = self._handle
        return [
            web.get(f"{P}/public/time", h(self.time, signed=False)),
            web.get(f"{P}/public/instruments", h(self.instruments, signed=False)),
            web.get(f"{P}/market/books", h(self.books, signed=False)),
            web.post(f"{P}/trade/order", h(self.place)),
            web.get(f"{P}/trade/order", h(self.get_order)),
            web.post(f"{P}/trade/cancel-order", h(self.cancel)),
            web.post(f"{P}/trade/amend-order", h(self.amend)),
            web.post(f"{P}/trade/amend-batch-orders", h(self.amend_batch)),
            web.get(f"{P}/account/config", h(self.config)),
            web.post(f"{P}/account/set-position-mode", h(self.set_position_mode)),
            web.post(f"{P}/trade/batch-orders", h(self.place_batch)),
            web.post(f"{P}/trade/cancel-batch-orders", h(self.cancel_batch)),
            web.get(f"{P}/trade/orders-pending", h(self.pending)),
            web.get(f"{P}/trade/fills", h(self.fills)),
            web.get(f"{P}/account/balance", h(self.balance)),
            web.get(f"{P}/account/positions", h(self.positions)),
            web.post(f"{P}/trade/cancel-all-after", h(self.cancel_all_after)),
            web.get(f"{P}/account/bills", h(self.bills)),
            web.post(f"{P}/account/set-leverage", h(self.set_leverage)),
            web.get(f"{P}/public/funding-rate", h(self.funding_rate, signed=False)),
        ]

    def _handle(self, fn: Any, signed: bool = True) -> Any:
        async def handler(request: web.Request) -> web.Response:
            body = await request.read()
            try:
                if signed:
                    self.verify(request, body)
                args: Any = orjson.loads(body) if body else dict(request.query)
                return await fn(args)  # type: ignore[no-any-return]
            except ApiError as e:
                return fail(e)
            except (orjson.JSONDecodeError, ValueError, ArithmeticError):
                return fail(ApiError("50002", "JSON syntax error", 400))

        return handler

    def verify(self, request: web.Request, body: bytes) -> None:
        h = request.headers
        if not same_secret(DEMO_KEY, h.get("OK-ACCESS-KEY", "")):
            raise ApiError("50111", "Invalid OK-ACCESS-KEY", 401)
        if not same_secret(DEMO_PASSPHRASE, h.get("OK-ACCESS-PASSPHRASE", "")):
            raise ApiError("50105", "OK-ACCESS-PASSPHRASE incorrect", 401)
        stamp = h.get("OK-ACCESS-TIMESTAMP", "")
        try:
            ts_ms = int(datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp() * 1000)
        except ValueError:
            raise ApiError("50112", "Invalid OK-ACCESS-TIMESTAMP", 401) from None
        if abs(ts_ms - self.s.now_ms()) > self.s.time_window_ms:
            raise ApiError("50102", "Timestamp request expired", 401)
        target = request.rel_url.raw_path_qs if request.rel_url.raw_query_string else request.path
        prehash = f"{stamp}{request.method}{target}{body.decode()}"
        if not hmac.compare_digest(sign_b64(DEMO_SECRET, prehash), h.get("OK-ACCESS-SIGN", "")):
            raise ApiError("50113", "Invalid Sign", 401)

    # ---- public -------------------------------------------------------------------------------------

    async def time(self, args: dict[str, str]) -> web.Response:
        return ok([{"ts": str(self.s.now_ms())}])

    async def instruments(self, args: dict[str, str]) -> web.Response:
        kind = args.get("instType")
        if kind not in ("SPOT", "SWAP"):
            raise ApiError("51000", "Parameter instType error", 400)
        rows = [b.inst.wire() for b in self.s.st.books.values() if b.inst.inst_type == kind]
        return ok([r for r in rows if args.get("instId", r["instId"]) == r["instId"]])

    async def books(self, args: dict[str, str]) -> web.Response:
        book = self.s.st.inst(args.get("instId", ""))
        n = min(int(args.get("sz", "1")), 400)
        bids, asks = book.engine.depth(n)
        inst = book.inst
        data = {
            "asks": [[inst.px(p), inst.sz(q), "0", "1"] for p, q in asks],
            "bids": [[inst.px(p), inst.sz(q), "0", "1"] for p, q in bids],
            "ts": str(self.s.now_ms()),
            "seqId": book.seq,
        }
        return ok([data])

    # ---- trading --------------------------------------------------------------------------------------

    def _item(self, o: Order, code: str = "0", msg: str = "") -> dict[str, str]:
        ts = str(self.s.now_ms())
        return {"ordId": o.ord_id, "clOrdId": o.cl_ord_id, "tag": "", "ts": ts, "sCode": code, "sMsg": msg}

    async def place(self, args: dict[str, Any]) -> web.Response:
        item = self.placed(args)
        return ok([item]) if item["sCode"] == "0" else ok([item], "1", "All operations failed")

    def placed(self, args: dict[str, Any]) -> dict[str, str]:
        """One order placed: its result item (sCode 0, or the reason)."""
        try:
            order, touched = self.s.st.place(args, self.s.now_ms())
        except ApiError as e:
            cl = str(args.get("clOrdId", ""))
            return {
                "ordId": "",
                "clOrdId": cl,
                "tag": "",
                "ts": str(self.s.now_ms()),
                "sCode": e.code,
                "sMsg": e.msg,
            }
        self.s.publish_orders(touched)
        return self._item(order)

    async def place_batch(self, args: list[dict[str, Any]]) -> web.Response:
        if not isinstance(args, list) or not 1 <= len(args) <= 20:
            raise ApiError("51000", "Parameter error: 1 to 20 orders", 400)
        return bulk([self.placed(a) for a in args])

    def amend_item(self, args: dict[str, Any]) -> dict[str, str]:
        """One order amended: its result item (sCode 0, or the reason)."""
        try:
            o, touched = self.s.st.amend(args, self.s.now_ms())
        except ApiError as e:
            return {"ordId": str(args.get("ordId", "")), "clOrdId": str(args.get("clOrdId", "")), "ts": "",
                    "reqId": str(args.get("reqId", "")), "sCode": e.code, "sMsg": e.msg}  # fmt: skip
        self.s.publish_orders(touched)
        return {**self._item(o), "reqId": str(args.get("reqId", ""))}

    async def amend(self, args: dict[str, Any]) -> web.Response:
        item = self.amend_item(args)
        return ok([item]) if item["sCode"] == "0" else ok([item], "1", "All operations failed")

    async def amend_batch(self, args: list[dict[str, Any]]) -> web.Response:
        if not isinstance(args, list) or not 1 <= len(args) <= 20:
            raise ApiError("51000", "Parameter error: 1 to 20 orders", 400)
        return bulk([self.amend_item(a) for a in args])

    def cancel_item(self, a: dict[str, Any]) -> dict[str, str]:
        """One order canceled: its result item (sCode 0, or the reason)."""
        try:
            o = self.s.st.cancel(str(a.get("instId", "")), str(a.get("ordId", "")),
                                 str(a.get("clOrdId", "")), self.s.now_ms())  # fmt: skip
        except ApiError as e:
            return {"ordId": str(a.get("ordId", "")), "clOrdId": str(a.get("clOrdId", "")), "ts": "",
                    "sCode": e.code, "sMsg": e.msg}  # fmt: skip
        self.s.publish_orders([o])
        return self._item(o)

    async def cancel(self, args: dict[str, Any]) -> web.Response:
        item = self.cancel_item(args)
        return ok([item]) if item["sCode"] == "0" else ok([item], "1", "All operations failed")

    async def cancel_batch(self, args: list[dict[str, Any]]) -> web.Response:
        if not isinstance(args, list) or len(args) > 20:
            raise ApiError("51000", "Parameter error: up to 20 orders", 400)
        return bulk([self.cancel_item(a) for a in args])

    async def get_order(self, args: dict[str, str]) -> web.Response:
        self.s.st.inst(args.get("instId", ""))
        o = self.s.st.find(args.get("instId", ""), args.get("ordId", ""), args.get("clOrdId", ""))
        if o is None:
            raise ApiError("51603", "Order does not exist")
        return ok([o.wire()])

    async def pending(self, args: dict[str, str]) -> web.Response:
        inst = args.get("instId", "")
        rows = [o.wire() for o in self.s.st.open_orders() if not inst or o.inst.inst_id == inst]
        return ok(list(reversed(rows))[: int(args.get("limit", "100"))])

    async def fills(self, args: dict[str, str]) -> web.Response:
        inst, begin = args.get("instId", ""), int(args.get("begin", "0") or 0)
        rows = [f for f in self.s.st.fills if (not inst or f["instId"] == inst) and int(f["ts"]) > begin]
        return ok(list(reversed(rows))[: int(args.get("limit", "100"))])

    async def balance(self, args: dict[str, str]) -> web.Response:
        return ok(self.s.st.balance_rows(self.s.now_ms()))

    async def config(self, args: dict[str, str]) -> web.Response:
        """`account/config`: the account level and position mode (options `acct_lv`, `pos_mode`)."""
        st = self.s.st
        row = {"uid": "1", "mainUid": "1", "acctLv": st.acct_lv, "posMode": st.pos_mode, "autoLoan": False,
               "greeksType": "PA", "level": "Lv1", "levelTmp": "", "ctIsoMode": "automatic",
               "mgnIsoMode": "automatic", "label": "sim", "perm": "read_only,trade", "ip": ""}  # fmt: skip
        return ok([row])

    async def set_position_mode(self, args: dict[str, Any]) -> web.Response:
        return ok([{"posMode": self.s.st.set_position_mode(str(args.get("posMode", "")))}])

    async def positions(self, args: dict[str, str]) -> web.Response:
        inst = args.get("instId", "")
        rows = self.s.st.position_rows(self.s.now_ms())  # SWAP only: spot holds balances
        return ok([r for r in rows if not inst or r["instId"] == inst])

    async def set_leverage(self, args: dict[str, Any]) -> web.Response:
        return ok([self.s.st.set_leverage(args)])

    async def bills(self, args: dict[str, str]) -> web.Response:
        """Funding settlements (`type` 8) only: the simulator keeps no other bills."""
        inst, begin = args.get("instId", ""), int(args.get("begin", "0") or 0)
        if args.get("type", "8") != "8":
            return ok([])
        rows = [b for b in self.s.st.bills if (not inst or b["instId"] == inst) and int(b["ts"]) > begin]
        return ok(list(reversed(rows))[: int(args.get("limit", "100"))])

    async def funding_rate(self, args: dict[str, str]) -> web.Response:
        book = self.s.st.inst(args.get("instId", ""))
        if not book.inst.swap:
            raise ApiError("51001", "Instrument ID does not exist")
        nxt = str(self.s.next_funding_ms)
        row = {"instType": "SWAP", "instId": book.inst.inst_id, "fundingRate": str(FUNDING_RATE),
               "nextFundingRate": "", "fundingTime": nxt, "nextFundingTime": nxt}  # fmt: skip
        return ok([row])

    async def cancel_all_after(self, args: dict[str, Any]) -> web.Response:
        timeout = int(str(args.get("timeOut", "")))
        if timeout != 0 and not self.s.dead_man_min_s <= timeout <= 120:
            raise ApiError("51000", "Parameter timeOut error")
        now = self.s.now_ms()
        self.s.st.dead_man_at_ms = now + timeout * 1000 if timeout else 0
        return ok([{"triggerTime": str(self.s.st.dead_man_at_ms), "tag": "", "ts": str(now)}])
