"""Market metadata from Gamma, Polymarket's market-metadata API (another host and quota than the CLOB).

Metadata (`metadata()`, `MarketMetadata`): Gamma (`Endpoints.gamma`, another host than the CLOB)
`GET /markets?condition_ids=<id>`, asked again with `closed=true` when the first answer is empty (the
default of `closed` is contested). Numbers are read as Decimal (never through a binary float). The
result is cross-checked against the CLOB market this connector trades: the token ids in order (YES
first; Gamma's `version` "v2" names them `positionIds`, "v1" `clobTokenIds`), the protocol version, the
tick and neg risk must agree, else `MetadataMismatchError` (`fields` names the ones that
differ); a differing min order size is only logged. `connect()` does this once when `check_metadata`
(default): a mismatch refuses the connection, an unreachable or unusable Gamma is logged and the
connection goes on (`market_metadata` stays None until `metadata()` succeeds).
Gamma fields, confirmed [SDK: the official Python SDK `polymarket-client`, repo Polymarket/py-sdk,
`models/gamma/market.py` and `actions/gamma.py`; DOC: docs.polymarket.com API reference, the market
schema in list-events and the `/markets` OpenAPI]: `id` (string), `question`, `slug`, `conditionId`,
`outcomes`, `outcomePrices` and `clobTokenIds` as JSON-encoded string arrays (a binary market has two,
paired by position), `active`, `closed`, `acceptingOrders`, `negRisk`, `endDate` (ISO 8601),
`orderPriceMinTickSize` and `orderMinSize` (JSON numbers), `rewardsMinSize` (shares) and
`rewardsMaxSpread`, `clobRewards[]` with `rewardsDailyRate`; list filters `condition_ids`,
`clob_token_ids`, `slug`, `id` (repeatable), `closed`, `limit`, `offset`. From third parties only:
`rewardsMaxSpread` is in cents (polymarket.md §1), the `/markets` limit of 300 per 10 s (§10).
[UNVERIFIED]: the default of `closed`, whether several `clobRewards` entries add up (summed here), and
Gamma's error bodies (any non-2xx is a plain `VenueError`).
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from trader.errors import ConfigError
from trader.venues.polymarket.errors import MarketMetadataError, MetadataMismatchError
from trader.venues.polymarket.parse import MarketMetadata, dec, norm, parse_gamma_market

if TYPE_CHECKING:
    from trader.venues.polymarket.connector import PolymarketConnector

log = logging.getLogger("trader.venues.polymarket")


async def gamma_markets(c: PolymarketConnector, query: list[tuple[str, str]]) -> list[Any]:
    if c._gamma is None:
        raise ConfigError("no Gamma endpoint configured (Endpoints.gamma)")
    c._acquire("gamma GET /markets")
    resp = await c._gamma.request("GET", "/markets", query=urlencode(query), mutating=False)
    try:
        rows = json.loads(resp.body, parse_float=Decimal)  # exact decimals, never a binary float
    except ValueError:
        raise MarketMetadataError("Gamma /markets: not JSON", venue=c.venue) from None
    if not isinstance(rows, list):
        raise MarketMetadataError("Gamma /markets: not a JSON array", venue=c.venue)
    return rows


async def metadata(c: PolymarketConnector) -> MarketMetadata:
    """This market's metadata from Gamma, cross-checked against the CLOB market being traded (token
    ids in order, tick, neg risk: `MetadataMismatchError`). Needs `connect()` first."""
    c.trading_spec()  # the CLOB side of the check
    cid = c.condition_id
    rows = await gamma_markets(c, [("condition_ids", cid)])
    if not rows:  # a closed market may be left out unless asked for
        rows = await gamma_markets(c, [("condition_ids", cid), ("closed", "true")])
    mine = [r for r in rows if isinstance(r, dict) and str(r.get("conditionId", "")).lower() == cid.lower()]
    if not mine:
        raise MarketMetadataError(f"Gamma lists no market {cid} ({len(rows)} others)", venue=c.venue)
    md = parse_gamma_market(mine[0], c.venue)
    cross_check(c, md)
    c._metadata = md
    return md


def cross_check(c: PolymarketConnector, md: MarketMetadata) -> None:
    def short(token: str) -> str:
        return token if len(token) <= 16 else f"{token[:8]}..{token[-6:]}"

    clob = (c._tokens[c.symbols[0]], c._tokens[c.symbols[1]])
    diffs: list[tuple[str, str]] = []
    if (md.yes_token, md.no_token) != clob:
        gamma_ids = ", ".join(short(t) for t in (md.yes_token, md.no_token))
        diffs.append(("tokens", f"token ids Gamma [{gamma_ids}] != CLOB [{', '.join(map(short, clob))}]"))
    if md.tick_size != dec(c._tick):
        diffs.append(("tick_size", f"tick Gamma {norm(md.tick_size)} != CLOB {c._tick}"))
    if md.neg_risk != c._neg_risk:
        diffs.append(("neg_risk", f"neg risk Gamma {md.neg_risk} != CLOB {c._neg_risk}"))
    if (md.version == "v2") != c.protocol_v2:  # Gamma's version against the CLOB's id namespace
        clob_kind = "position ids (Protocol V2)" if c.protocol_v2 else "CTF token ids"
        diffs.append(("version", f"Gamma version {md.version} != CLOB {clob_kind}"))
    if diffs:
        raise MetadataMismatchError(
            f"market {c.condition_id}: " + "; ".join(d for _, d in diffs),
            venue=c.venue,
            fields=tuple(f for f, _ in diffs),
        )
    if md.min_order_size != dec(c._min_size):
        log.warning(
            "%s: min order size Gamma %s != CLOB %s (the CLOB's applies)",
            c.venue, norm(md.min_order_size), c._min_size,
        )  # fmt: skip
