"""IBKR market depth through the connector against the simulator: SMART depth rows kept as a book, 317
resets, gaps, and the renewals after 1101/1102/2104 and a dropped socket."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tests.venues.ibkr.harness import (
    cents,
    depth_matches,
    later,
    next_of,
    run,
    sim_conn,
    sim_depth,
    until,
)
from trader.core import (
    Book,
    BookNotReadyError,
    BookState,
    InstrumentSpec,
)
from trader.sim.ibkr import IbkrSimServer, px
from trader.venues.base import (
    BookInvalid,
    BookUpdate,
)
from trader.venues.ibkr import (
    IbkrConnector,
    _Depth,
    _DepthGapError,
)


def test_depth_follows_the_simulators_book_and_the_engine_still_sees_the_top() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        with pytest.raises(BookNotReadyError):
            conn.depth("SPY", 5)  # not subscribed
        await conn.subscribe_depth("SPY", rows=5)
        await depth_matches(conn, server, "SPY", 5)
        [(con_id, rows, smart)] = sim_conn(server).depth.values()
        assert (con_id, rows, smart) == (756733, 5, True)  # SMART depth for a SMART-routed stock
        assert conn.depth_book("SPY").state == BookState.VALID
        assert len(conn.depth("SPY", 3)[0]) == 3
        _, ask = server.top("SPY")
        server.hit("SPY", "BUY", 100_000, price=ask + Decimal("0.02"))  # lifts the offers
        bid, new_ask = server.top("SPY")
        assert new_ask > ask
        await depth_matches(conn, server, "SPY", 5)
        top = await next_of(conn, BookUpdate, lambda e: e.instrument == "SPY" and e.ask == cents(new_ask))
        assert top.bid == cents(bid)
        with pytest.raises(BookNotReadyError):
            conn.depth("QQQ", 5)
        await conn.unsubscribe_depth("SPY")
        await until(lambda: later(not sim_conn(server).depth))
        with pytest.raises(BookNotReadyError):
            conn.depth("SPY", 5)

    run(test)


def test_a_317_reset_rebuilds_the_depth_from_the_rows_that_follow() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        await conn.subscribe_depth("QQQ", rows=4)
        await depth_matches(conn, server, "QQQ", 4)
        c = sim_conn(server)
        [req_id] = c.depth
        bids, asks = sim_depth(server, "QQQ", 4)
        # a second market maker joins the best bid: IB inserts a row, the rows below move down (the
        # SDK's own DOM overwrites row 0 instead, so it now knows one row fewer than the ladder has)
        c.send(13, 1, req_id, 0, "BATS", 0, 1, px(bids[0][0]), 50, 1)
        await until(lambda: later(conn.depth("QQQ", 4)[0][0] == (bids[0][0], bids[0][1] + 50)))
        assert conn.depth("QQQ", 4) == ([(bids[0][0], bids[0][1] + 50), *bids[1:]], asks)
        built = conn.depth_book("QQQ").last_update_id
        assert server.reset_depth("QQQ") == 1
        # every row comes again as an insert after the 317: all the old rows must go first
        await until(lambda: later(conn.depth_book("QQQ").last_update_id > built))
        await depth_matches(conn, server, "QQQ", 4)
        assert set(c.depth) == {req_id}  # rebuilt without a new request

    run(test)


def test_a_depth_gap_requests_the_depth_again() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        await conn.subscribe_depth("SPY", rows=5)
        await depth_matches(conn, server, "SPY", 5)
        c = sim_conn(server)
        [req_id] = c.depth
        c.send(13, 1, req_id, 7, "ARCA", 1, 1, "1.00", 100, 1)  # an update of row 7 of a 5-row ladder
        await until(lambda: later(conn.depth_book("SPY").state == BookState.INVALID))
        with pytest.raises(BookNotReadyError):
            conn.depth("SPY", 5)
        # asked for again (not at once: a stream that keeps breaking is asked for at most once a second)
        await until(lambda: later(set(c.depth) != {req_id}))
        assert len(c.depth) == 1  # the old request canceled, a new one open
        await depth_matches(conn, server, "SPY", 5)

    run(test)


def test_1101_resubscribes_the_depth_and_rebuilds_it() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        await conn.subscribe_depth("SPY", rows=5)
        await depth_matches(conn, server, "SPY", 5)
        c = sim_conn(server)
        before = set(c.depth)
        server.drop_farm()
        await next_of(conn, BookInvalid)
        with pytest.raises(BookNotReadyError):
            conn.depth("SPY", 5)
        assert conn.depth_book("SPY").state != BookState.VALID
        server.restore_farm(data_lost=True)  # the Gateway forgot every subscription
        await until(lambda: later(bool(c.depth)))
        assert len(c.depth) == 1
        assert set(c.depth) != before
        await depth_matches(conn, server, "SPY", 5)
        _, ask = server.top("SPY")
        server.hit("SPY", "BUY", 100_000, price=ask + Decimal("0.03"))
        await depth_matches(conn, server, "SPY", 5)
        assert len(c.depth) == 1

    run(test)


def test_1102_and_a_dropped_socket_renew_the_depth_request() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        await conn.subscribe_depth("SPY", rows=5)
        await depth_matches(conn, server, "SPY", 5)
        c = sim_conn(server)
        before = set(c.depth)
        server.drop_farm()
        await next_of(conn, BookInvalid)
        server.restore_farm(data_lost=False)  # the Gateway kept it: canceled, then asked again
        await until(lambda: later(bool(c.depth) and set(c.depth) != before))
        await depth_matches(conn, server, "SPY", 5)
        assert len(c.depth) == 1
        await server.drop_connections()
        await next_of(conn, BookInvalid, lambda e: "dropped" in e.reason)
        with pytest.raises(BookNotReadyError):
            conn.depth("SPY", 5)

        async def back() -> bool:
            return any(x.client_id == 11 and x.depth for x in server.conns)

        await until(back)
        _, ask = server.top("SPY")
        server.hit("SPY", "BUY", 100_000, price=ask + Decimal("0.02"))
        await depth_matches(conn, server, "SPY", 5)
        assert len(sim_conn(server).depth) == 1

    run(test, reconnect_delay_s=0.05)


def test_a_broken_then_restored_data_farm_renews_the_depth_request() -> None:
    async def test(server: IbkrSimServer, conn: IbkrConnector) -> None:
        await conn.subscribe_depth("SPY", rows=5)
        await depth_matches(conn, server, "SPY", 5)
        c = sim_conn(server)
        before = set(c.depth)
        c.error(-1, 2103, "Market data farm connection is broken:usfarm")  # without a 1100
        await next_of(conn, BookInvalid)
        with pytest.raises(BookNotReadyError):
            conn.depth("SPY", 5)
        c.error(-1, 2104, "Market data farm connection is OK:usfarm")
        await until(lambda: later(bool(c.depth) and set(c.depth) != before))
        await depth_matches(conn, server, "SPY", 5)
        assert len(c.depth) == 1

    run(test)


def test_depth_rows_follow_ibs_insert_and_delete_rules() -> None:
    d = _Depth(5, True, Book(InstrumentSpec("0.01", "1")))
    for pos, price in enumerate((100, 99, 97)):
        d.apply(pos, 0, 1, (price, 10))
    d.apply(2, 0, 1, (98, 5))  # an insert shifts the rows below it down
    d.apply(0, 1, 1, (100, 7))
    d.apply(0, 0, 0, (102, 4))
    d.apply(1, 0, 0, (102, 6))  # a second market maker at the same price
    assert d.bids == [(100, 7), (99, 10), (98, 5), (97, 10)]
    assert d.levels(0) == [(102, 10)]
    d.apply(1, 2, 1, None)  # a delete shifts them up
    assert d.bids == [(100, 7), (98, 5), (97, 10)]
    with pytest.raises(_DepthGapError):
        d.apply(3, 1, 1, (96, 1))  # no row 3
    with pytest.raises(_DepthGapError):
        d.apply(5, 0, 1, (96, 1))
    with pytest.raises(_DepthGapError):
        d.apply(2, 2, 0, None)
