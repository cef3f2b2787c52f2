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
