"""The `Connector` protocol for the venue (see `venues/base.py`): compose `_http.HttpClient` and
`_ws.WsClient`; parse with `parse.py`; classify errors with `errors.py`."""

from __future__ import annotations

from collections.abc import AsyncIterator

from trader.clock import Clock
from trader.core import Approval
from trader.venues.base import (
    Capabilities,
    FillReport,
    FundingPayment,
    InstrumentInfo,
    OrderReport,
    SubmitAck,
    Tier,
    VenueEvent,
    require_approval,
)
from trader.venues.profile import VenueTime

CAPABILITIES = Capabilities(
    venue="_template",
    tier=Tier.CRYPTO,
    order_types=frozenset({"LIMIT"}),
    time_in_force=frozenset({"GTC"}),
    post_only=False,
    reduce_only=False,
    cancel_all=False,
    dead_man_switch=False,
    ws_order_entry=False,
    max_batch=1,
    paper_environment=False,
    needs_credentials=True,
)

_TODO = "template: implement for the venue"


class TemplateConnector:
    venue = "_template"
    capabilities = CAPABILITIES

    def __init__(self, *, symbol: str, clock: Clock) -> None:
        self.symbol = symbol
        self.clock = clock

    async def connect(self) -> None:
        raise NotImplementedError(_TODO)

    async def close(self) -> None:
        raise NotImplementedError(_TODO)

    async def venue_time(self) -> VenueTime:
        raise NotImplementedError(_TODO)

    async def instrument_info(self, symbol: str) -> InstrumentInfo:
        raise NotImplementedError(_TODO)

    async def submit(self, approval: Approval, client_id: str, instrument: str) -> SubmitAck:
        require_approval(approval)
        raise NotImplementedError(_TODO)

    def rehearse(self, approval: Approval, client_id: str, instrument: str) -> int:
        """`submit` up to the socket without its effects (optional: `trader.venues.base.Rehearses`; under
        `--busy-poll` the engine calls it about every millisecond with the last order it sent, so the
        next order's code is warm). Fill in, calling the very functions `submit`'s path calls (factor
        them out of it; never copy them): the order's parameters, its signature, and the request bytes
        from `self._http.encode(method, path, query=..., body=..., headers=...)` (what `request` would
        write, unsent) or the WebSocket frame; return their length. Then test that the rehearsed bytes
        are the sent ones (tests/engine/test_rehearsal.py, a frozen wall clock).

        It must not: send, await, log, use a rate-limit quota (no `try_acquire`), record anything (no
        ids, no open-order sets, no order log), take an id, nonce or sequence number the venue checks,
        or read funds. Leave out checks of passing state (session down, heartbeat failing), and do not
        refuse a used client id (the rehearsed order was sent): a rehearsal that raises stops for the
        session. A venue whose request cannot be built without sending it: delete this method."""
        require_approval(approval)
        raise NotImplementedError(_TODO)

    async def cancel(self, client_id: str) -> None:
        raise NotImplementedError(_TODO)

    async def cancel_all(self, instrument: str | None = None) -> int:
        raise NotImplementedError(_TODO)

    async def query(self, client_id: str) -> OrderReport | None:
        raise NotImplementedError(_TODO)

    async def open_orders(self) -> list[OrderReport]:
        raise NotImplementedError(_TODO)

    async def fills_since(self, ts_ns: int) -> list[FillReport]:
        raise NotImplementedError(_TODO)

    async def funding_since(self, ts_ns: int) -> list[FundingPayment]:
        return []  # a venue with perpetuals: its funding history (Binance: GET /fapi/v1/income)

    async def positions(self) -> dict[str, int]:
        raise NotImplementedError(_TODO)

    def events(self) -> AsyncIterator[VenueEvent]:
        """An async generator in a real connector: market data and private updates, in venue order."""
        raise NotImplementedError(_TODO)
