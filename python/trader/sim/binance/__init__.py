"""One loopback Binance: spot, USD-M futures and cross/isolated margin on one port, so the `binance`
connector and the official SDK (python-binance) trade against it unmodified. The spot protocol alone
(`SpotSimServer`) is also the built-in `sim` venue.

Spot (`/api/v3/...`): ping, time, exchangeInfo, depth, ticker/24hr, ticker/bookTicker, ticker/price,
trades, aggTrades, klines; signed: order (POST LIMIT, MARKET by `quantity` or `quoteOrderQty`, LIMIT_MAKER
with GTC/IOC/FOK; GET; DELETE), openOrders (GET, DELETE), allOrders, myTrades, account, account/commission,
and the legacy listenKey endpoints. Streams `/ws/<stream>` and `/stream?streams=...` (`<symbol>@depth@100ms`
diffs that continue the REST snapshot's `lastUpdateId`, `@trade`, `@aggTrade`, `@bookTicker`,
`@miniTicker`, `@ticker`, `@kline_<interval>`, `!miniTicker@arr`, `!ticker@arr`), live SUBSCRIBE;
`/ws/<listenKey>`; the WebSocket API `/ws-api/v3`. User data: executionReport, then the wallet's balances
(`outboundAccountPosition`) after each change.

Futures (`/fapi/...`, its own perpetual book and background market, same symbol name): ping, time,
exchangeInfo, depth, ticker/24hr, ticker/bookTicker, ticker/price (v1, v2), trades, aggTrades, klines,
premiumIndex (mark price), fundingRate (the settlements made); signed: order (POST LIMIT GTC/IOC/FOK/GTX and
MARKET, positionSide BOTH, reduceOnly, newClientOrderId, newOrderRespType ACK|RESULT,
selfTradePreventionMode; GET; DELETE), openOrder, openOrders, allOrders, allOpenOrders (DELETE), userTrades,
leverage, marginType, countdownCancelAll (the dead-man switch), v2/v3 positionRisk, balance and account,
income, commissionRate, leverageBracket, positionSide/dual (one-way mode only); listenKey (POST/PUT/DELETE).
Streams on the routed paths `/public/...` (depth, bookTicker), `/market/...` (the spot list's trade, ticker
and kline streams, `@markPrice`), user data on `/private/...` (ORDER_TRADE_UPDATE, ACCOUNT_UPDATE,
ACCOUNT_CONFIG_UPDATE, listenKeyExpired). WebSocket API `/ws-fapi/v1`. Funding settles on open positions
every `funding_interval_s` (8 h) at `funding_rate` (`funding.py`).

Margin (`/sapi/v1/...`, orders match on the spot book): margin/order (POST with sideEffectType
NO_SIDE_EFFECT | MARGIN_BUY | AUTO_REPAY | AUTO_BORROW_REPAY; GET; DELETE), margin/openOrders (GET,
DELETE), margin/allOrders, margin/myTrades, margin/account, margin/isolated/account,
margin/maxBorrowable, margin/borrow-repay and the older margin/loan + margin/repay (python-binance 1.0.37
still calls those), userListenToken, and the margin listenKeys (`/sapi/v1/userDataStream[/isolated]`);
system/status and asset/tradeFee (served with margin: `SpotSimServer` has no `/sapi`).
`isIsolated=TRUE` + `symbol` selects the isolated account.

Errors use Binance's codes and messages; request weight and order counts are enforced with
`X-MBX-USED-WEIGHT-1M` / `X-MBX-ORDER-COUNT-10S` (`-1M` on futures), 429 + Retry-After, then 418.
Signatures are checked by `trader.sim.auth` (stdlib `hmac`, `cryptography`'s Ed25519), independently of the
core under test. Money is Decimal or integer units.

Layout: `ops.py` (the one route table and the behaviours, parametrized by the market descriptor in
`state.py`), `spotbook.py` / `futuresbook.py` (matching through `trader.sim.matching`), `margin.py`,
`futures_account.py`, `funding.py`, `filters.py`, `limits.py`, `signed.py`, `feeds.py`, `tape.py` (public
trades, tickers, klines), `venue_info.py` (what clients call around trading), `userdata.py`, `rest.py`,
`ws.py`, `server.py`. Our choices and deviations from Binance are documented in those modules.
"""

from trader.sim.binance.errors import ApiError
from trader.sim.binance.filters import FUTURES, INSTRUMENTS, FuturesSpec, SpotInstrument
from trader.sim.binance.server import ALL_MARKETS, BinanceSimServer, SpotSimServer
from trader.sim.binance.state import (
    DEMO_KEY,
    DEMO_SECRET,
    FUTURES_MARKET,
    LIVE,
    MARGIN,
    MARGIN_MARKET,
    SPOT,
    SPOT_MARKET,
    Account,
    FuturesAccount,
    FuturesOrder,
    MarginWallet,
    Market,
    Order,
    Position,
    UserKey,
)

__all__ = [
    "ALL_MARKETS",
    "DEMO_KEY",
    "DEMO_SECRET",
    "FUTURES",
    "FUTURES_MARKET",
    "INSTRUMENTS",
    "LIVE",
    "MARGIN",
    "MARGIN_MARKET",
    "SPOT",
    "SPOT_MARKET",
    "Account",
    "ApiError",
    "BinanceSimServer",
    "FuturesAccount",
    "FuturesOrder",
    "FuturesSpec",
    "MarginWallet",
    "Market",
    "Order",
    "Position",
    "SpotInstrument",
    "SpotSimServer",
    "UserKey",
]
