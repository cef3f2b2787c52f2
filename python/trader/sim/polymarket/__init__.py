"""A loopback simulator of the Polymarket CLOB V2 (pUSD collateral): CTF markets (exchange domain version
"2") and Protocol V2 markets (ExchangeV3, domain version "3").

REST, as `py-clob-client-v2` calls it: `/`, `/ok`, `/time`, `/version`; L1 (EIP-712 `ClobAuth`)
`POST /auth/api-key` and `GET /auth/derive-api-key`; public market data (`/markets`, `/markets/{id}`,
`/clob-markets/{id}`, `/markets-by-token/{id}`, `/book`, `POST /books`, `/tick-size`, `/neg-risk`,
`/fee-rate`, `/midpoint`, `/spread`, `/last-trade-price`); L2 (HMAC) `POST /order`, `POST /orders`
(max 15), `DELETE /order|/orders|/cancel-all|/cancel-market-orders`, `/data/order/{id}`,
`/data/orders` and `/data/trades` (cursor pages `MA==` .. `LTE=`), `/balance-allowance[/update]`,
`/order-scoring`, `POST /orders-scoring`, `POST /v1/heartbeats` (and `/heartbeats`: the dead-man
switch). WebSocket `/ws/market` (book, price_change, last_trade_price, tick_size_change,
market_resolved) and `/ws/user` (order, trade). A minimal Polygon JSON-RPC at `POST /rpc` answers
`eth_chainId` and `eth_call` for pUSD `balanceOf`/`allowance` and CTF `balanceOf`/`isApprovedForAll`.

Signatures are checked independently of the core under test: HMAC with the standard library, EIP-712
(`ClobAuth` and the V2 `Order` against the CTF Exchange or the Neg Risk CTF Exchange) with
eth-account. Money is integer micro-units (6 decimals); prices are integer units of 0.0001.

Matching: each binary market has ONE book in YES-price space, as the venue shows it: a YES buy at p
is a bid at p, a NO buy at q an ask at 1-q, a YES sell an ask, a NO sell at q a bid at 1-q. A bid
meeting an ask is then a plain transfer (same token), a mint (YES buy + NO buy) or a merge (YES sell
+ NO sell); price-time priority holds across both tokens. The NO book is the mirror of the YES book.

Background market (on by default, `background=False` for empty books): on every listed market a few
participants (not API keys, so never under the dead-man switch; ample pUSD and tokens, topped up) quote
around a fair YES price that walks +-1 tick within `BackgroundParams.bounds`, seeded by the server's seed:
Poisson arrivals of limit orders (YES or NO, either side), cancels and small marketable (FAK) orders per
`on_step`, through the same matching as API orders, so a client's quotes get filled and the market
channel moves. Same seed, same steps: the same prints (`tape`). The venue's records (`/data/trades`,
`/sim/state`) hold API keys' orders and trades only; `tape` holds every print.

Gamma (market metadata; the real one is the host gamma-api.polymarket.com, here the path prefix
`/gamma` on the same server): `GET /gamma/markets` (a JSON array; filters `condition_ids`,
`clob_token_ids`, `slug`, `id`, each repeatable, and `closed`; `limit`, `offset`; throttled at 300 per
10 s) and `GET /gamma/markets/{id}` by Gamma id, made from the same market state the CLOB serves (tick,
min size, neg risk, token ids, rewards, closed after `resolve`). Every market has an end date (Gamma
`endDate`, CLOB `end_date_iso`): by default the UTC midnight `LIFETIME_DAYS` days after the server
clock's day at creation. Fields, confirmed in the official Python SDK (`polymarket-client`, repo
Polymarket/py-sdk, `models/gamma/market.py`, `actions/gamma.py`) and the docs' market schema: `id`
(string), `question`, `conditionId`, `slug`, `outcomes`/`outcomePrices`/`clobTokenIds` as
JSON-encoded string arrays, `active`, `closed`, `archived`, `acceptingOrders`, `enableOrderBook`,
`negRisk`, `negRiskMarketID`, `questionID`, `startDate`, `endDate`, `endDateIso`, `secondsDelay`,
`orderPriceMinTickSize`, `orderMinSize`, `rewardsMinSize`, `rewardsMaxSpread`, `bestBid`, `bestAsk`,
`spread`, `lastTradePrice` (JSON numbers), `clobRewards[]` (`id`, `conditionId`, `assetAddress`,
`rewardsAmount`, `rewardsDailyRate`, `startDate`, `endDate`). Third-party only: `rewardsMaxSpread` in
cents. [UNVERIFIED]: without `closed` both open and closed markets are listed (reports disagree on
the venue's default); the default and largest `limit` (100, 500); error bodies (`{"error": ...}`, 404
for an unknown id, 422 for a bad `limit`/`offset`/`closed`); `endDateIso` as the date part. Not served:
volumes and liquidity. Events, search, keyset listings, the data API and price history: data.py.

Admin (tests, rehearsals): `fund`, `set_allowance`, `set_approval`, `resolve`, `set_tick_size`,
`set_end_date`, `set_gamma_override` (Gamma serves given fields instead of the market's: an indexer
that disagrees with the CLOB), `link_funder` as methods and under `POST /sim/...`.

Deviations from the venue (documented, deliberate):
- every new address starts with `default_collateral` pUSD and all V2 approvals (unlimited);
- trades settle at once: REST shows them CONFIRMED with a synthetic transaction hash; the user
  channel sends MATCHED then CONFIRMED;
- resolution redeems automatically (on chain it takes `redeemPositions`);
- every signature type the venue accepts: EOA (0), POLY_PROXY (1), POLY_GNOSIS_SAFE (2) as plain EIP-712
  signatures, and POLY_1271 (3, a deposit wallet: ERC-7739 `TypedDataSign` over the order, checked with
  eth-account, the wallet's ERC-1271 check being that the API key's EOA signed); the maker (funder) of
  types 1-3 is accepted as signed and linked to the signer (the venue derives those addresses). With
  `deposit_wallet_only`, types 0-2 get the venue's own answer to accounts that must use a deposit wallet,
  "maker address not allowed, please use the deposit wallet flow" (reported verbatim in
  Polymarket/py-clob-client-v2 issue 83); an unknown type is an invalid payload;
- Protocol V2 markets (`add_market(..., protocol_v2=True)`): position ids, orders signed for ExchangeV3
  (EIP-712 domain version "3"), balances of asset type CONDITIONAL-V2, PositionManager approvals;
- no fees (`/fee-rate` is 0), no matching delay, no self-trade prevention, L1/L2 timestamps are not
  checked for age, throttling answers 429 at once (Cloudflare first queues);
- reward scoring uses the plain midpoint (the venue's size-cutoff-adjusted midpoint is unpublished);
- unverified shapes, chosen from third-party recordings: the subscribe snapshot is one JSON array of
  `book` events; `/data/order` statuses are LIVE/MATCHED/CANCELED and sizes decimal share strings;
  a failed item of `POST /orders` carries `success: false` and `errorMsg`.
"""

from trader.sim.polymarket.server import PolymarketSimServer
from trader.sim.polymarket.state import (
    AMPLE,
    BAD_PAYLOAD,
    CHAIN_ID,
    CLOB_AUTH_MESSAGE,
    COLLATERAL,
    CTF,
    DAY_S,
    END_CURSOR,
    EXCHANGE,
    GAMMA_ID_BASE,
    GTD_THRESHOLD_S,
    LIFETIME_DAYS,
    MAX_BATCH,
    MAX_UINT256,
    NEG_RISK_ADAPTER,
    NEG_RISK_EXCHANGE,
    NO_BALANCE,
    ORDER_PATHS,
    ORDER_TYPES,
    SCALE,
    SPENDERS,
    START_CURSOR,
    TAPE,
    UNAUTHORIZED,
    UNIT,
    ApiError,
    ApiKey,
    Background,
    BackgroundParams,
    Call,
    Fill,
    Market,
    Order,
    Wallet,
    fmt,
    to_units,
)

__all__ = [
    "AMPLE",
    "BAD_PAYLOAD",
    "CHAIN_ID",
    "CLOB_AUTH_MESSAGE",
    "COLLATERAL",
    "CTF",
    "DAY_S",
    "END_CURSOR",
    "EXCHANGE",
    "GAMMA_ID_BASE",
    "GTD_THRESHOLD_S",
    "LIFETIME_DAYS",
    "MAX_BATCH",
    "MAX_UINT256",
    "NEG_RISK_ADAPTER",
    "NEG_RISK_EXCHANGE",
    "NO_BALANCE",
    "ORDER_PATHS",
    "ORDER_TYPES",
    "SCALE",
    "SPENDERS",
    "START_CURSOR",
    "TAPE",
    "UNAUTHORIZED",
    "UNIT",
    "ApiError",
    "ApiKey",
    "Background",
    "BackgroundParams",
    "Call",
    "Fill",
    "Market",
    "Order",
    "PolymarketSimServer",
    "Wallet",
    "fmt",
    "to_units",
]
