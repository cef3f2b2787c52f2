"""OKX's streams as the transport's synchronous `on_message` handlers (no hop on the market-data path): the
public handler applies `books` pushes and decodes `trades` in the call that read them, starts the
resubscription after a gap as a task, skips what it cannot read without raising (the stream goes on);
the private handler resolves the answer to a waiting order operation and hands an `orders` push's fill
and report to the engine in the read, skips what it cannot read, and leaves the login's and the
subscriptions' answers (which await) to the stream's loop."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import orjson
import pytest

from trader.clock import LiveClock
from trader.core import InstrumentSpec, Side
from trader.venues import registry
from trader.venues._ws import WsClient, WsConnected, WsDisconnected, WsEvent, WsMessage
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
    FillReport,
    OrderReport,
    OrderState,
    Stream,
    StreamStatus,
    TradeTick,
    VenueEvent,
)
from trader.venues.okx import OkxConnector
from trader.venues.okx.streams import PrivateStream, PublicStream

CLOCK = LiveClock()
INST = "BTC-USDT"


class Recorder(WsClient):
    """A WebSocket that records what is sent on it (nothing is connected) and yields `script`."""

    def __init__(self, *script: WsEvent) -> None:
        super().__init__("okx", "ws://127.0.0.1:1/ws/v5/public", clock=CLOCK)
        self.sent: list[dict[str, Any]] = []
        self.script = script

    async def send(self, data: bytes | str) -> None:
        self.sent.append(orjson.loads(data))

    async def events(self) -> AsyncIterator[WsEvent]:
        for ev in self.script:
            yield ev


def connector() -> OkxConnector:
    conn = registry.loopback_connector("http://127.0.0.1:1", symbol=INST, clock=CLOCK, venue="okx")
    assert isinstance(conn, OkxConnector)
    conn.spec = InstrumentSpec("0.1", "0.0001")
    return conn


def books(action: str, prev: int, seq: int, bid: str = "100.0", ask: str = "100.1") -> bytes:
    data = {"asks": [[ask, "1", "0", "1"]], "bids": [[bid, "2", "0", "1"]], "ts": "1700000000000",
            "checksum": 0, "prevSeqId": prev, "seqId": seq}  # fmt: skip
    return orjson.dumps({"arg": {"channel": "books", "instId": INST}, "action": action, "data": [data]})


def trades(*rows: Any) -> bytes:
    return orjson.dumps({"arg": {"channel": "trades", "instId": INST}, "data": list(rows)})


TRADE = {"instId": INST, "tradeId": "1", "px": "100.0", "sz": "0.5", "side": "buy", "ts": "1700000000000"}


def drain(conn: OkxConnector) -> list[VenueEvent]:
    out = []
    while not conn.queue.empty():
        out.append(conn.queue.get_nowait())
    return out


def seq(stream: PublicStream) -> int | None:
    return stream.book.seq  # (read through a call: mypy would keep a narrowing from before)


def public() -> tuple[OkxConnector, Recorder, PublicStream]:
    conn, ws = connector(), Recorder()
    stream = PublicStream(conn, ws)
    assert ws.on_message == stream.on_message  # the stream is the transport's handler
    return conn, ws, stream


def test_a_gap_in_the_read_invalidates_the_book_and_starts_the_resubscription() -> None:
    async def body() -> None:
        conn, ws, stream = public()
        conn.health.down(Stream.MARKET, "stale")  # as after a dropped connection
        drain(conn)
        assert stream.on_message(books("snapshot", -1, 10), 1)
        assert stream.on_message(books("update", 10, 11, bid="100.0"), 2)
        evs = drain(conn)
        assert [type(e) for e in evs] == [StreamStatus, BookUpdate, BookUpdate]
        assert isinstance(evs[0], StreamStatus)
        assert evs[0].up
        assert evs[-1] == BookUpdate(INST, 1000, 20000, 1001, 10000, 1_700_000_000_000_000_000, 2)
        assert stream.on_message(books("update", 12, 13), 3)  # 11 -> 12 was lost
        evs = drain(conn)
        assert evs == [BookInvalid(INST, "sequence gap", ts_recv=3)]
        assert stream.book.seq is None
        assert ws.sent == []  # nothing awaited in the read: the resubscription is a task
        assert stream.on_message(books("update", 13, 14), 4)  # until the snapshot: nothing traded off
        assert drain(conn) == []
        assert stream.resubscribing is not None
        await stream.resubscribing
        args = [{"channel": "books", "instId": INST}]
        assert ws.sent == [{"op": "unsubscribe", "args": args}, {"op": "subscribe", "args": args}]
        assert stream.on_message(books("snapshot", -1, 20), 5)
        evs = drain(conn)
        assert [type(e) for e in evs] == [BookUpdate]  # a gap is no stream down: nothing to tell up
        assert seq(stream) == 20
        assert stream.snapshots == 2

    asyncio.run(body())


def test_a_drop_cancels_the_resubscription_not_sent_yet() -> None:
    """The connection's life stays in `run`: a drop invalidates the book and says the stream is down; the
    resubscription a gap started is dropped (the reconnect subscribes afresh), the book waits for the
    snapshot of the new connection."""

    async def body() -> None:
        conn, ws = connector(), Recorder(WsConnected(1), WsDisconnected("reset by peer"), WsConnected(2))
        stream = PublicStream(conn, ws)
        stream.on_message(books("snapshot", -1, 10), 1)
        stream.on_message(books("update", 11, 12), 2)
        resubscribing = stream.resubscribing
        assert resubscribing is not None
        drain(conn)
        await stream.run()
        evs = drain(conn)
        assert [type(e) for e in evs] == [StreamStatus, BookInvalid]
        assert isinstance(evs[0], StreamStatus)
        assert not evs[0].up
        assert stream.tasks() == []
        await asyncio.gather(resubscribing, return_exceptions=True)
        assert resubscribing.cancelled()
        assert ws.sent == []
        assert stream.on_message(books("update", 12, 13), 3)  # the new connection's: until its snapshot
        assert drain(conn) == []
        assert stream.on_message(books("snapshot", -1, 40), 4)
        assert [type(e) for e in drain(conn)] == [StreamStatus, BookUpdate]  # up again

    asyncio.run(body())


def test_invalidations_before_the_resubscription_ran_share_it() -> None:
    """A resubscription not sent yet brings a snapshot after both invalidations: one, not two."""

    async def body() -> None:
        conn, ws, stream = public()
        stream.on_message(books("snapshot", -1, 10), 1)
        stream.on_message(books("update", 11, 12), 2)
        stream.on_message(b"{not json", 3)  # a malformed push: the book is invalid too
        assert [e.reason for e in drain(conn) if isinstance(e, BookInvalid)] == [
            "sequence gap",
            "malformed books push",
        ]
        await asyncio.gather(*stream.tasks())
        assert [m["op"] for m in ws.sent] == ["unsubscribe", "subscribe"]
        stream.on_message(books("update", 12, 13), 4)  # once it is done, a new gap resubscribes again
        assert stream.on_message(books("snapshot", -1, 20), 5)
        stream.on_message(books("update", 21, 22), 6)
        await asyncio.gather(*stream.tasks())
        assert [m["op"] for m in ws.sent] == ["unsubscribe", "subscribe"] * 2

    asyncio.run(body())


JUNK = [  # read by the core as no books push; the stream cannot use them either
    b'{"arg": {"channel": "trades"}, "data": {"px": "1"}}',
    b'{"arg": {"channel": "trades"}, "data": 5}',
    trades({**TRADE, "px": "abc"}),
    trades({**TRADE, "sz": "1e"}),
    trades({"px": "100.0"}),
    trades("row"),
    b'{"event": "error", "code": "60018", "msg": "Wrong URL or channel"}',
]


@pytest.mark.parametrize("raw", JUNK)
def test_what_the_handler_cannot_read_is_skipped_and_the_stream_goes_on(
    raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        conn, ws, stream = public()
        assert stream.on_message(books("snapshot", -1, 10), 1)
        drain(conn)
        with caplog.at_level(logging.WARNING, "trader.venues.okx"):
            assert stream.on_message(raw, 2)  # taken, never raised
        assert drain(conn) == []
        assert caplog.records, "logged"
        assert stream.on_message(books("update", 10, 11), 3)  # the book goes on
        assert stream.on_message(trades(TRADE), 4)
        evs = drain(conn)
        assert [type(e) for e in evs] == [BookUpdate, TradeTick]
        assert stream.tasks() == []
        assert ws.sent == []

    asyncio.run(body())


NOT_JSON_OBJECTS = [b"[]", b"1", b"null", b'"event"', b'{"arg": 5}', b"{not json", books("update", 1, 2)[:-5]]


@pytest.mark.parametrize("raw", NOT_JSON_OBJECTS)
def test_a_push_the_core_cannot_read_invalidates_the_book_without_raising(raw: bytes) -> None:
    """It may have been a books push: the book is invalid (`BookInvalid`) until the snapshot of the
    resubscription, and the stream goes on."""

    async def body() -> None:
        conn, ws, stream = public()
        assert stream.on_message(books("snapshot", -1, 10), 1)
        drain(conn)
        assert stream.on_message(raw, 2)  # taken, never raised
        assert drain(conn) == [BookInvalid(INST, "malformed books push", ts_recv=2)]
        assert stream.book.seq is None
        await asyncio.gather(*stream.tasks())
        assert [m["op"] for m in ws.sent] == ["unsubscribe", "subscribe"]
        assert stream.on_message(books("snapshot", -1, 30), 3)
        assert stream.on_message(books("update", 30, 31), 4)
        assert [type(e) for e in drain(conn)] == [BookUpdate, BookUpdate]

    asyncio.run(body())


def test_pongs_are_taken_and_trades_are_handed_on_in_the_read() -> None:
    async def body() -> None:
        conn, _, stream = public()
        assert stream.on_message(b"pong", 1)
        assert stream.on_message(trades(TRADE, {**TRADE, "tradeId": "2", "side": "sell"}), 7)
        t1, t2 = drain(conn)
        assert isinstance(t1, TradeTick)
        assert isinstance(t2, TradeTick)
        assert (t1.price, t1.qty, t1.aggressor, t1.ts_recv) == (1000, 5000, Side.BUY, 7)
        assert t2.aggressor == Side.SELL

    asyncio.run(body())


def test_an_order_answer_is_resolved_in_the_read_and_a_late_one_is_dropped_there() -> None:
    async def body() -> None:
        conn, ws = connector(), Recorder()
        stream = PrivateStream(conn, ws)
        assert ws.on_message == stream.on_message  # the stream is the transport's handler
        answer = {"id": "1", "op": "order", "code": "0", "data": [{"ordId": "9", "sCode": "0"}]}
        assert stream.on_message(orjson.dumps(answer), 1)  # nothing waits: taken, dropped
        fut = conn._ws_pending["1"] = asyncio.get_running_loop().create_future()
        orders = {"arg": {"channel": "orders"}, "data": []}
        others = [orjson.dumps(orders), b"pong", b"{not json", b"[1]", orjson.dumps({**answer, "id": "2"})]
        for other in others:
            assert stream.on_message(other, 2)  # taken, and none of them answers "1"
        assert not fut.done()
        assert stream.on_message(orjson.dumps(answer), 3)  # its caller has it, set in this very call
        assert fut.done()
        assert fut.result() == answer
        assert stream.on_message(orjson.dumps(answer), 4)  # a repeat: nothing waits for it any more
        assert fut.result() == answer
        assert drain(conn) == []
        assert ws.sent == []

    asyncio.run(body())


ORDER = {"instId": INST, "ordId": "9", "clOrdId": "c1", "side": "buy", "px": "100.0", "sz": "0.5",
         "accFillSz": "0.5", "state": "filled", "tradeId": "7", "fillSz": "0.5", "fillPx": "100.0",
         "fillFee": "-0.05", "fillFeeCcy": "USDT", "fillTime": "1700000000000", "execType": "T",
         "uTime": "1700000000000"}  # fmt: skip


def orders(*rows: Any) -> bytes:
    return orjson.dumps({"arg": {"channel": "orders", "instType": "ANY"}, "data": list(rows)})


def account(cash: str) -> bytes:
    return orjson.dumps(
        {"arg": {"channel": "account"}, "data": [{"details": [{"ccy": "USDT", "cashBal": cash}]}]}
    )


def test_private_pushes_are_handled_in_the_read() -> None:
    """An `orders` push's fill and report reach the queue in the call (with its read's `ts_recv`); another
    instrument's order is not ours; an `account` push moves the balances; an error event is logged."""

    async def body() -> None:
        conn, ws = connector(), Recorder()
        stream = PrivateStream(conn, ws)
        assert stream.on_message(orders({**ORDER, "instId": "ETH-USDT"}, ORDER), 5)
        f, r = drain(conn)
        assert isinstance(f, FillReport)
        assert (f.client_id, f.trade_id, f.price, f.qty, f.side, f.maker, f.ts_recv) == (
            "c1", "9:7", 1000, 5000, Side.BUY, False, 5)  # fmt: skip
        assert isinstance(r, OrderReport)
        assert (r.client_id, r.state, r.filled, r.ts_recv) == ("c1", OrderState.FILLED, 5000, 5)
        assert stream.on_message(account("12.5"), 6)
        assert conn.stream_balances() == {"USDT": Decimal("12.5")}
        assert stream.on_message(b'{"event": "error", "code": "60018", "msg": "Wrong channel"}', 7)
        assert drain(conn) == []
        assert ws.sent == []

    asyncio.run(body())


PRIVATE_JUNK = [
    b"{not json",
    b"[1]",
    b'"orders"',
    b'{"arg": "orders", "data": [1]}',
    b'{"arg": {"channel": "orders"}, "data": 5}',
    orders("row"),
    orders({"instId": INST}),
    orders({**ORDER, "sz": "abc"}),
    orders({**ORDER, "fillPx": "1e"}),
    orders({**ORDER, "px": "1.23456", "tradeId": ""}),  # off the tick
    orders({**ORDER, "accFillSz": "0.00001"}),  # off the lot
    account("x"),
    b'{"arg": {"channel": "account"}, "data": [{"details": 3}]}',
]


@pytest.mark.parametrize("raw", PRIVATE_JUNK)
def test_a_malformed_private_message_in_the_read_is_skipped_and_the_stream_goes_on(
    raw: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    async def body() -> None:
        conn, ws = connector(), Recorder()
        stream = PrivateStream(conn, ws)
        with caplog.at_level(logging.WARNING, "trader.venues.okx"):
            assert stream.on_message(raw, 1)  # taken, never raised
        assert drain(conn) == []
        assert conn.stream_balances() == {}
        assert stream.on_message(orders(ORDER), 2)  # the stream goes on
        assert [type(e) for e in drain(conn)] == [FillReport, OrderReport]

    asyncio.run(body())
    if raw not in (b"[1]", b'"orders"', b'{"arg": "orders", "data": [1]}'):  # not OKX's: quietly dropped
        assert caplog.records, "logged"


def test_a_malformed_order_is_skipped_alone() -> None:
    async def body() -> None:
        conn, ws = connector(), Recorder()
        stream = PrivateStream(conn, ws)
        assert stream.on_message(orders({**ORDER, "sz": "abc"}, {**ORDER, "tradeId": "8"}), 1)
        f, r = drain(conn)
        assert isinstance(f, FillReport)
        assert f.trade_id == "9:8"
        assert isinstance(r, OrderReport)

    asyncio.run(body())


LOGIN = {"event": "login", "code": "0", "msg": "", "connId": "1"}


def subscribed(channel: str) -> bytes:
    return orjson.dumps({"event": "subscribe", "arg": {"channel": channel}, "connId": "1"})


@pytest.mark.parametrize("market", ["spot", "swap"])
def test_the_login_and_subscription_answers_go_to_the_loop_which_catches_up_after_a_reconnect(
    market: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """They await (a subscription to send; the REST catch-up after a reconnect, then `up`): `on_message`
    declines them and `run` handles them, in order with what the handler took."""

    async def body() -> None:
        conn = registry.loopback_connector(
            "http://127.0.0.1:1", symbol=INST, clock=CLOCK, venue="okx", market=market
        )
        assert isinstance(conn, OkxConnector)
        login, orders_ok, account_ok = orjson.dumps(LOGIN), subscribed("orders"), subscribed("account")
        session: list[WsEvent] = [
            WsConnected(1),
            WsMessage(login, 1),
            WsMessage(orders_ok, 2),
            WsMessage(account_ok, 3),
        ]
        ws = Recorder(*session, WsDisconnected("reset"), *session)
        stream = PrivateStream(conn, ws)
        for declined in (login, orders_ok, account_ok, orjson.dumps({**LOGIN, "code": "1"})):
            assert not stream.on_message(declined, 1)
        catch_ups: list[int] = []

        async def catch_up() -> None:
            catch_ups.append(len(ws.sent))

        monkeypatch.setattr(conn, "_catch_up", catch_up)
        await stream.run()
        channels = ["orders", "account", *(["positions"] if market == "swap" else [])]
        assert [[a["channel"] for a in m["args"]] for m in ws.sent] == [channels] * 2
        assert catch_ups == [2]  # after the reconnect's subscription only
        assert conn._ready.is_set()
        statuses = [e for e in drain(conn) if isinstance(e, StreamStatus)]
        assert [(s.stream, s.up) for s in statuses] == [(Stream.PRIVATE, False), (Stream.PRIVATE, True)]

    asyncio.run(body())
