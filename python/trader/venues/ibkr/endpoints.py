"""Where an IB Gateway / TWS listens, and the TWS API's pacing.

The Gateway holds the login; the connector opens one API session (host, port, client id) on it.
"""

from __future__ import annotations

# The Gateway runs on the operator's machine: the host is loopback unless the config names another.
DEFAULT_HOST = "127.0.0.1"  # source: ib_async 2.1.0 `IB.connect(host="127.0.0.1")`, read; ibkr.md §3
LIVE_GATEWAY_PORT = 4001  # source: ../shared/venues/ibkr.md §6 (default API ports)
PAPER_GATEWAY_PORT = 4002  # source: ibkr.md §6
LIVE_TWS_PORT = 7496  # source: ibkr.md §6
PAPER_TWS_PORT = 7497  # source: ibkr.md §6; ib_async's default port
LIVE_PORTS = (LIVE_GATEWAY_PORT, LIVE_TWS_PORT)

MAX_MESSAGES_PER_SECOND = 50  # the Gateway's limit per API client (error 100, then a disconnect)
DEFAULT_MESSAGES_PER_SECOND = 40  # what the connector budgets by default, below the limit
PACING_WINDOW_NS = 1_000_000_000
PACING_BLOCK_NS = 1_000_000_000  # after an error 100 the limiter is blocked this long

FEE_WAIT_S = 1.0  # how long an order report waits for the commission report of its fill
DEPTH_RETRY_NS = 1_000_000_000  # a depth stream that keeps breaking is asked for again at most this often


def paper_port(gateway: bool = True) -> int:
    return PAPER_GATEWAY_PORT if gateway else PAPER_TWS_PORT


def live_port(gateway: bool = True) -> int:
    return LIVE_GATEWAY_PORT if gateway else LIVE_TWS_PORT
