"""Polymarket CLOB V2 endpoints: hosts per environment, contract addresses, limits and quotas
(polymarket.md §9, §10, §11). The venue has no testnet: `live`, or a simulator on loopback."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from trader.venues.base import Capabilities, Tier

# Polygon mainnet contracts (polymarket.md §9, §11), each confirmed in the official SDK polymarket-client
# 0.14.0, `polymarket/environments.py` PRODUCTION (tests/sign/test_polymarket_protocol_v2.py compares them)
COLLATERAL = "0xC011a7E12a19f7B1f670d46F03B03f3342E82DFB"  # pUSD, 6 decimals (`collateral_token`)
CTF = "0x4D97DCd97eC945f40cF65F87097ACe5EA0476045"  # Conditional Tokens, ERC-1155 (`conditional_tokens`)
EXCHANGE = "0xE111180000d2663C0091e4f400237545B87B996B"  # CTF Exchange V2 (`standard_exchange`)
NEG_RISK_EXCHANGE = "0xe2222d279d744050d28e00520010520000310F59"  # Neg Risk CTF Exchange V2
NEG_RISK_ADAPTER = "0xd91E80cF2E7be2e162c6513ceD06f1dD0dA35296"  # `neg_risk_adapter` (CTF operator)
# Protocol V2 markets (position ids): orders settle on ExchangeV3 (EIP-712 domain version "3"),
# positions live in the PositionManager (ERC-1155), split/merge/redeem go through the Router
EXCHANGE_V3 = "0xe3333700cA9d93003F00f0F71f8515005F6c00Aa"  # `exchange_v3`
POSITION_MANAGER = "0x006F54F7f9A22e0000CC2AB60031000000ae9fEF"  # `position_manager`
PROTOCOL_V2_ROUTER = "0x12121212006e4CD160D18e3f00711DA5c3372600"  # `protocol_v2_router`
COLLATERAL_ADAPTER = "0xAdA100Db00Ca00073811820692005400218FcE1f"  # `collateral_adapter`
NEG_RISK_COLLATERAL_ADAPTER = "0xadA2005600Dec949baf300f4C6120000bDB6eAab"  # `neg_risk_collateral_adapter`
AUTO_REDEEM_OPERATOR = "0xa1200000d0002264C9a1698e001292D00E1b00af"  # `auto_redeem_operator`
BINARY_MODULE = "0x1000008dD9001B968442c1000017eaE6E0dA00Ba"  # `binary_module`
NEG_RISK_MODULE = "0x200000900045e3B6259600682756002200028933"  # `neg_risk_module`
# USDC -> pUSD: approve USDC.e to the CollateralOnramp, then `wrap(USDC.e, to, amount)` on it, 1:1
# [DOC docs.polymarket.com/concepts/pusd, "Wrapping — USDC.e → pUSD"]
COLLATERAL_ONRAMP = "0x93070a847efEf7F70739046A929D47a521F5B8ee"
USDC_E = "0x2791Bca1f2de4661ED88A30C99A7a9449Aa84174"  # bridged USDC on Polygon (polymarket.md §9)

MICRO = Decimal("0.000001")  # pUSD and outcome tokens have 6 decimals
LOT = "0.01"  # order sizes are floored to 0.01 shares
MAX_BATCH = 15
START_CURSOR, END_CURSOR = "MA==", "LTE="
GTD_THRESHOLD_S = 60  # the venue cancels a GTD order 60 s before its `expiration`

_10S, _10MIN = 10.0, 600.0
# polymarket.md §10 (published values; the connector uses `budget` of each). Route -> windows.
RATE_LIMITS: dict[str, list[tuple[int, float]]] = {
    "general": [(9000, _10S)],
    "auth": [(100, _10S)],
    "POST /order": [(5000, _10S), (120_000, _10MIN)],
    "POST /orders": [(2000, _10S), (21_000, _10MIN)],
    "DELETE /order": [(5000, _10S), (120_000, _10MIN)],
    "DELETE /orders": [(2000, _10S), (15_000, _10MIN)],
    "DELETE /cancel-all": [(250, _10S), (6000, _10MIN)],
    "DELETE /cancel-market-orders": [(250, _10S), (6000, _10MIN)],  # unpublished: as cancel-all
    "GET /balance-allowance": [(200, _10S)],
    "GET /book": [(1500, _10S)],
    "GET /data/orders": [(500, _10S)],
    "GET /data/trades": [(500, _10S)],
    "gamma": [(4000, _10S)],  # Gamma-wide (its own host and quota)
    "gamma GET /markets": [(300, _10S)],
}


@dataclass(frozen=True)
class Endpoints:
    rest: str
    ws: str  # root of /ws/market and /ws/user
    rpc: str | None = field(default=None, repr=False)  # Polygon JSON-RPC (its URL may hold a key)
    gamma: str | None = None  # Gamma, the market-metadata API (None: `metadata()` is unavailable)

    @classmethod
    def loopback(cls, url: str) -> Endpoints:
        """Every endpoint of a simulator at `url` (http://127.0.0.1:PORT), its JSON-RPC and its Gamma
        (served under `/gamma`) included."""
        base = url.rstrip("/")
        ws = "ws" + base[len("http") :] if base.startswith("http") else base
        return cls(base, ws, f"{base}/rpc", f"{base}/gamma")


# Every host the connector and the simulator's clients call. Sources: polymarket-client 0.14.0
# `polymarket/environments.py` PRODUCTION (`clob_url`, `clob_market_ws_url`, `gamma_url`, `data_url`,
# `rpc_url`) and polymarket.md §1.
CLOB = "https://clob.polymarket.com"  # `clob_url`; polymarket.md §1
CLOB_WS = "wss://ws-subscriptions-clob.polymarket.com"  # root of `clob_market_ws_url`/`clob_user_ws_url`
GAMMA = "https://gamma-api.polymarket.com"  # `gamma_url`; polymarket.md §1
DATA_API = "https://data-api.polymarket.com"  # `data_url` (positions, trades); polymarket.md §1
# Polygon JSON-RPC: polygon-rpc.com no longer serves free requests (issue 20). The default is the public
# endpoint the official SDK itself uses (`rpc_url`); an operator's own node or provider goes in
# [venues.polymarket] rpc_url, and `trader testnet` says when the RPC does not answer.
POLYGON_RPC = "https://polygon.drpc.org"  # `rpc_url`

ENDPOINTS = {
    "live": Endpoints(CLOB, CLOB_WS, POLYGON_RPC, GAMMA),
}


def capabilities(venue: str = "polymarket") -> Capabilities:
    """What the connector offers: limit and market orders, GTC/GTD/IOC/FOK, post-only, batches of 15,
    the heartbeat dead-man switch; no paper environment (the simulator stands in)."""
    return Capabilities(
        venue=venue,
        tier=Tier.PREDICTION,
        order_types=frozenset({"LIMIT", "MARKET"}),
        time_in_force=frozenset({"GTC", "GTD", "IOC", "FOK"}),
        post_only=True,
        reduce_only=False,
        cancel_all=True,
        dead_man_switch=True,
        ws_order_entry=False,
        max_batch=MAX_BATCH,
        paper_environment=False,
        needs_credentials=True,
    )
