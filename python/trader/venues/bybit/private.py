"""Bybit's private events as the connector reads them: pushed on `/v5/private` by default, read by REST
for catch-up and reconciliation (and as the whole source with `private_stream=False`).

- `PrivateLedger`: the bookkeeping both sources feed. Each `execId` becomes one `FillReport`; an order row
  becomes an `OrderReport` when its state, filled quantity, price or quantity changed. A report that states
  more filled than the fills emitted so far for its order is held until they are (Bybit's `order` and
  `execution` topics are separate pushes in no stated order; the simulator sends the order row first):
  a fill's reports arrive fills first, then the report that counts them. A report held for `fill_wait_s`
  triggers one REST read of the executions, then goes out whatever it found.
- `PrivateStream`: `op: auth` (signed by the core's `BybitSigner.ws_auth`), then `order`, `execution`,
  `position`, `wallet`, and in a request of its own `dcp.spot` or `dcp.future` where DCP is used (Bybit's
  DCP fires when every private connection subscribed to it is gone for its window; the bare `dcp` topic
  is deprecated per the docs). `{"op": "ping"}` every `PING_S` (Bybit cuts a private connection idle for
  10 min and recommends 20 s). A drop is `StreamStatus` down; after the reconnect one REST catch-up
  (`PrivateLedger.poll`) runs before it is reported up. Frames are handled in the read that brought them
  (`PrivateStream.on_message`): a fill of ours reaches the engine there; the catch-up is a task.
  `position` and `wallet` rows are kept as the last ones heard (`position`, `wallet`): REST stays the
  source of `positions()` and `balances()`.
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson

from trader.core import InstrumentSpec
from trader.errors import VenueError
from trader.venues._status import lost
from trader.venues._ws import WsClient, WsDisconnected, WsMessage, WsStale
from trader.venues.base import InstrumentInfo, OrderReport, OrderState, Stream
from trader.venues.bybit import parse

if TYPE_CHECKING:
    from trader.venues.bybit.connector import BybitConnector, WsAuth

log = logging.getLogger("trader.venues.bybit")

PING_S = 20.0
# what a malformed frame raises while it is read (a bad decimal: ArithmeticError)
_ERRORS = (
    orjson.JSONDecodeError,
    KeyError,
    TypeError,
    ValueError,
    AttributeError,
    ArithmeticError,
    VenueError,
)


class PrivateLedger:
    """Order and execution events of one connector, from the private stream or by REST."""

    def __init__(self, conn: BybitConnector, fill_wait_s: float = 0.5) -> None:
        self._conn = conn
        self.fill_wait_s = fill_wait_s
        self._watch: set[str] = set()  # client ids of our orders last seen open
        self._seen: dict[str, tuple[OrderState, int, int, int]] = {}  # client id -> what was last emitted
        self._execs: set[str] = set()
        self._filled: dict[str, int] = {}  # client id -> qty of the fills emitted (or known at prime)
        self._held: dict[str, OrderReport] = {}  # reports waiting for their fills
        self._timers: dict[str, asyncio.Task[None]] = {}
        self._since_ms = 0
        self.polls = 0
        self.held_released_late = 0  # held reports that went out without all their fills

    def watch(self, client_id: str) -> None:
        self._watch.add(client_id)

    async def prime(self) -> None:
        """Start from now: the executions and open orders already there are not news."""
        conn = self._conn
        self._since_ms = conn.venue_now_ms() - 1000  # the venue's clock: executions carry its time
        for x in await conn.executions(self._since_ms):
            self._execs.add(str(x["execId"]))
        for r in await conn.open_orders():
            self._watch.add(r.client_id)
            self._seen[r.client_id] = (r.state, r.filled, r.price, r.qty)
            self._filled[r.client_id] = r.filled

    async def run(self, every_s: float) -> None:
        """Poll every `every_s`: the private events' source (no stream) or its reconciliation."""
        conn = self._conn
        while True:
            await conn.clock.sleep(every_s)
            try:
                await self.poll()
            except VenueError as e:
                conn._health.down(Stream.PRIVATE, f"poll failed: {type(e).__name__}")
                log.warning("%s: private poll failed: %s", conn.venue, type(e).__name__)
                continue
            if conn.private is None or conn.private.connected:
                conn._health.up(Stream.PRIVATE)

    async def poll(self) -> None:
        """One REST read: executions since the last one heard, then the orders watched."""
        conn = self._conn
        self.polls += 1
        await self.poll_fills()
        if not self._watch:
            return
        now = conn.clock.now_ns()
        open_rows = {str(o["orderLinkId"]): o for o in await conn._orders([("openOnly", 0)])}
        for cid in sorted(self._watch):
            o = open_rows.get(cid)
            if o is None:
                found = await conn._orders([("orderLinkId", cid)]) or await conn._history(cid)
                if not found:
                    continue
                o = found[0]
            self.report(o, now)

    async def poll_fills(self) -> None:
        conn = self._conn
        info = await conn.instrument_info(conn.symbol)
        spec = conn.trading_spec()
        now = conn.clock.now_ns()
        rows = await conn.executions(self._since_ms)
        for x in sorted(rows, key=lambda r: int(r["execTime"])):
            self.fill(x, info, spec, now)

    def fill(self, x: dict[str, Any], info: InstrumentInfo, spec: InstrumentSpec, now: int) -> None:
        """An execution heard (by REST or on the private stream): emitted once per `execId`."""
        exec_id = str(x["execId"])
        if exec_id in self._execs:
            return
        f = parse.fill(x, info, spec, now)  # read whole first: a malformed one is not marked heard
        since_ms = int(x["execTime"]) - 1000
        self._execs.add(exec_id)
        self._since_ms = max(self._since_ms, since_ms)
        self._watch.add(f.client_id)
        self._filled[f.client_id] = self._filled.get(f.client_id, 0) + f.qty
        self._conn.emit(f)
        held = self._held.get(f.client_id)
        if held is not None and held.filled <= self._filled[f.client_id]:
            self._release(f.client_id)

    def report(self, o: dict[str, Any], now: int) -> None:
        """An order row (REST or the private stream): emitted on a change, after the fills it counts."""
        cid = str(o["orderLinkId"])
        r = parse.order_report(o, self._conn.trading_spec(), now)
        if r.state in parse.TERMINAL:
            self._watch.discard(cid)
        if self._seen.get(cid) == (r.state, r.filled, r.price, r.qty):
            return
        if r.filled > self._filled.get(cid, 0):
            self._held[cid] = r
            if cid not in self._timers:
                loop = asyncio.get_running_loop()
                self._timers[cid] = loop.create_task(self._release_later(cid))
            return
        self._emit(cid, r)

    def _emit(self, cid: str, r: OrderReport) -> None:
        self._seen[cid] = (r.state, r.filled, r.price, r.qty)
        self._conn.emit(r)

    def _release(self, cid: str) -> None:
        r = self._held.pop(cid)
        timer = self._timers.pop(cid, None)
        if timer is not None and timer is not asyncio.current_task():
            timer.cancel()
        if self._seen.get(cid) != (r.state, r.filled, r.price, r.qty):
            self._emit(cid, r)

    async def _release_later(self, cid: str) -> None:
        """The fills of a held report did not arrive in `fill_wait_s`: read them by REST once; the
        report goes out then, with or without them (the engine reconciles what is still missing)."""
        await self._conn.clock.sleep(self.fill_wait_s)
        try:
            await self.poll_fills()
        except VenueError as e:
            log.warning("%s: fills of %s not read: %s", self._conn.venue, cid, type(e).__name__)
        if cid in self._held:
            self.held_released_late += 1
            log.warning("%s: report of %s out without all its fills", self._conn.venue, cid)
            self._release(cid)

    def stop(self) -> list[asyncio.Task[None]]:
        timers = list(self._timers.values())
        for t in timers:
            t.cancel()
        self._timers.clear()
        return timers


class PrivateStream:
    """`/v5/private`: login, the private topics, app-level pings; events go through the ledger.

    Every frame is handled in the read that brought it (`on_message`, the transport's synchronous
    handler, called there when the engine waits for events, else by the reader, in order): a fill of ours
    and the reports it releases reach the engine in that call, with no trip through the event loop. A
    malformed frame is logged and skipped there (never raised: that would end the stream); the catch-up
    after a reconnect is a task started there (`catch_up`). Only a refused login goes to `run` (which
    ends the stream); `run` otherwise follows the connection's life."""

    TOPICS = ("order", "execution", "position", "wallet")

    def __init__(
        self, conn: BybitConnector, url: str, auth: WsAuth, ledger: PrivateLedger, *, dcp: bool = False
    ) -> None:
        self._conn, self._auth, self._ledger = conn, auth, ledger
        # pinged every PING_S: silence for three of them is a dead connection
        self.ws = WsClient(
            conn.venue,
            url,
            clock=conn.clock,
            on_connect=self.login,
            on_message=self.on_message,
            stale_after_s=3 * PING_S,
        )
        self.topics = self.TOPICS
        # DCP's topic goes in a request of its own (all-in-one and categorised topics cannot share one)
        self.dcp_topic = ("dcp.spot" if conn.category == "spot" else "dcp.future") if dcp else ""
        self.dcp_answered = asyncio.Event()
        self.dcp_subscribed = False
        self.catch_up: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()  # logged in and subscribed, or refused (`refused`)
        self.refused = ""
        self.connected = False
        self.position: dict[str, Any] = {}  # the last `position` row of our symbol
        self.wallet: dict[str, Decimal] = {}  # coin -> walletBalance, from the last `wallet` push
        self.dcp: dict[str, Any] = {}  # the last `dcp` push

    async def login(self, ws: WsClient) -> None:
        conn = self._conn
        key, expires, signature = self._auth(conn.venue_now_ms() + 10_000)
        await ws.send(orjson.dumps({"req_id": "auth", "op": "auth", "args": [key, expires, signature]}))
        await ws.send(orjson.dumps({"req_id": "private", "op": "subscribe", "args": list(self.topics)}))
        if self.dcp_topic:
            await ws.send(orjson.dumps({"req_id": "dcp", "op": "subscribe", "args": [self.dcp_topic]}))

    async def run(self) -> None:
        """The connection's life (its frames: `on_message`), and a refused login, which ends it."""
        conn = self._conn
        pinger = asyncio.get_running_loop().create_task(self._ping())
        try:
            async for ev in self.ws.events():
                if isinstance(ev, WsDisconnected | WsStale):
                    self.connected = False
                    conn._health.down(Stream.PRIVATE, lost(ev))
                elif isinstance(ev, WsMessage) and not self._goes_on(ev):
                    await self.ws.close()
                    return
        finally:
            pinger.cancel()

    def _goes_on(self, ev: WsMessage) -> bool:
        """A frame `on_message` declined (a refused login, the only one): False, the stream stops there."""
        return self.message(orjson.loads(ev.data), ev.ts_recv, self.reconnected())

    def reconnected(self) -> bool:
        """Whether the current connection is a reconnect (what it missed is caught up by REST)."""
        return self.ws.connects > 1

    def on_message(self, data: bytes, ts_recv: int) -> bool:
        """One frame, as it is read (the transport's `on_message`): applied through the ledger; a
        malformed frame is logged and skipped. Every frame is taken but a refused login (for `run`)."""
        try:
            msg = orjson.loads(data)
            if msg.get("op") == "auth" and not msg.get("success"):
                return False
            self.message(msg, ts_recv, self.reconnected())
        except _ERRORS as e:
            log.warning("%s: malformed private message skipped: %s", self._conn.venue, type(e).__name__)
        return True

    async def _ping(self) -> None:
        while True:
            await self._conn.clock.sleep(PING_S)
            try:
                await self.ws.send(orjson.dumps({"req_id": "ping", "op": "ping"}))
            except VenueError:
                continue  # not connected now: the reconnect logs in again

    def message(self, msg: dict[str, Any], ts_recv: int, reconnected: bool) -> bool:
        """Apply one frame; False when the login was refused (the stream stops)."""
        conn, op = self._conn, msg.get("op")
        if op == "auth" and not msg.get("success"):
            self.refused = str(msg.get("ret_msg", "")) or "login refused"
            log.error("%s: private stream login refused: %s", conn.venue, self.refused)
            self.ready.set()
            return False
        if op == "subscribe" and msg.get("req_id") == "dcp":
            self.dcp_subscribed = bool(msg.get("success"))
            if not self.dcp_subscribed:
                log.error("%s: %s refused: %s", conn.venue, self.dcp_topic, msg.get("ret_msg", ""))
            self.dcp_answered.set()
            return True
        if op == "subscribe" and msg.get("success"):
            self.connected = True
            self.ready.set()
            if reconnected:  # a task: the handler cannot await (one at a time: the latest drop's)
                if self.catch_up is not None:
                    self.catch_up.cancel()
                self.catch_up = asyncio.get_running_loop().create_task(self._poll_once())
            else:
                conn._health.up(Stream.PRIVATE)
            return True
        self.topic(str(msg.get("topic", "")), msg.get("data") or [], ts_recv)
        return True

    def topic(self, topic: str, rows: list[dict[str, Any]], ts_recv: int) -> None:
        conn = self._conn
        if topic == "wallet":
            for acct in rows:
                for c in acct.get("coin", []):
                    self.wallet[str(c["coin"])] = Decimal(str(c.get("walletBalance") or "0"))
            return
        if topic.startswith("dcp"):
            self.dcp = rows[-1] if rows else {}
            return
        mine = [
            r
            for r in rows
            if r.get("symbol") == conn.symbol and r.get("category", conn.category) == conn.category
        ]
        if topic == "order":
            for o in mine:
                self._ledger.report(o, ts_recv)
        elif topic == "execution":
            info, spec = conn._info, conn.trading_spec()
            assert info is not None
            for x in mine:
                if x.get("execType", "Trade") == "Trade":
                    self._ledger.fill(x, info, spec, ts_recv)
        elif topic == "position" and mine:
            self.position = mine[-1]

    async def _poll_once(self) -> None:
        try:
            await self._ledger.poll()
        except VenueError as e:
            log.warning("%s: catch-up after reconnect failed: %s", self._conn.venue, type(e).__name__)
            return
        self._conn._health.up(Stream.PRIVATE)
