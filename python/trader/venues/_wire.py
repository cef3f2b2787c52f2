"""Tick-to-wire: the moment an order's bytes are handed to the socket, for the engine's latency figures.

The engine starts each order's send with a `WireProbe` in the context of the send (a `ContextVar`, which
asyncio copies into the task): the transports stamp it when the request's bytes go to the socket (`_http`:
the request line and headers are serialized and written in the same synchronous step as the stamp;
`_ws`: right after the frame was written to the transport). No connector code is involved, and a send
without a probe (a cancel, a read, a test) costs one `ContextVar.get`.
"""

from __future__ import annotations

import asyncio
import socket
from contextvars import ContextVar
from dataclasses import dataclass

from trader.clock import Clock


@dataclass
class WireProbe:
    """One order's send: `wire_ns` (our wall clock, as `ts_recv`) once its bytes were handed to the socket;
    0 until then (an order refused before it left the process is never stamped)."""

    wire_ns: int = 0


PROBE: ContextVar[WireProbe | None] = ContextVar("trader_wire_probe", default=None)


def stamp(clock: Clock) -> None:
    """The current send's bytes are being handed to the socket now (the first stamp counts)."""
    probe = PROBE.get()
    if probe is not None and not probe.wire_ns:
        probe.wire_ns = clock.now_ns()


def nodelay(transport: asyncio.BaseTransport) -> None:
    """TCP_NODELAY on a new connection's socket (a small request or frame is never held back for Nagle);
    the HTTP and WebSocket transports call it when a connection is made."""
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
