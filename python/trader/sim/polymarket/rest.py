"""The Polymarket simulator's REST API: L1/L2 auth and throttling, keys, public market data, Gamma
(served under `/gamma`), order and trade queries, balances, rewards scoring, heartbeats, admin routes."""

from __future__ import annotations

import base64
import hashlib
import json
import uuid
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web
from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from trader.sim import auth
from trader.sim.polymarket import orders
from trader.sim.polymarket.state import (
    _ADDRESS,
    _CLOB_AUTH,
    _DOMAIN,
    BAD_L1,
    BAD_PAYLOAD,
    CHAIN_ID,
    CLOB_AUTH_MESSAGE,
    COLLATERAL,
    END_CURSOR,
    GAMMA_LIMIT,
    GAMMA_MAX_LIMIT,
    MAX_UINT256,
    SCALE,
    SPENDERS,
    START_CURSOR,
    UNAUTHORIZED,
    UNIT,
    V2_OPERATORS,
    ApiError,
    ApiKey,
    Call,
    Fill,
    Market,
    Order,
    _iso,
    _key,
    fmt,
)

if TYPE_CHECKING:
    from trader.sim.polymarket.server import PolymarketSimServer


def market_for(srv: PolymarketSimServer, call: Call, name: str = "token_id") -> tuple[Market, str]:
    token = call.query.get(name, "")
    if not token:
        raise ApiError("Invalid token id")
    m = srv.tokens.get(token)
    if m is None:
        raise ApiError("market not found", 404)
    return m, token


def levels(srv: PolymarketSimServer, m: Market, token: str) -> tuple[dict[int, int], dict[int, int]]:
    """Bids and asks of `token` (price units -> micro-shares), the NO book mirrored from YES."""
    bids, asks = (dict(side) for side in m.engine.depth(1_000_000))
    if token == m.yes:
        return bids, asks
    return {SCALE - p: q for p, q in asks.items()}, {SCALE - p: q for p, q in bids.items()}


def book(srv: PolymarketSimServer, m: Market, token: str) -> dict[str, Any]:
    bids, asks = levels(srv, m, token)
    last = m.last_trade.get(token)
    book: dict[str, Any] = {
        "market": m.condition_id,
        "asset_id": token,
        "timestamp": str(srv.now_ms()),
        "hash": "",
        # best level LAST on both sides, as the venue (and the SDK's market-price walk) has it
        "bids": [{"price": fmt(p, SCALE), "size": fmt(bids[p], UNIT)} for p in sorted(bids)],
        "asks": [{"price": fmt(p, SCALE), "size": fmt(asks[p], UNIT)} for p in sorted(asks, reverse=True)],
        "min_order_size": fmt(m.min_size, UNIT),
        "tick_size": fmt(m.tick, SCALE),
        "neg_risk": m.neg_risk,
        "last_trade_price": fmt(last[0], SCALE) if last else "",
    }
    # the SDK's generate_orderbook_summary_hash: SHA-1 of this compact JSON with hash ""
    book["hash"] = hashlib.sha1(  # noqa: S324 - the venue's checksum, not a security use
        json.dumps(book, separators=(",", ":"), ensure_ascii=False).encode()
    ).hexdigest()
    return book


def market_json(srv: PolymarketSimServer, m: Market) -> dict[str, Any]:
    return {
        "enable_order_book": True,
        "active": not m.closed,
        "closed": m.closed,
        "archived": False,
        "accepting_orders": not m.closed,
        "minimum_order_size": orjson.Fragment(fmt(m.min_size, UNIT).encode()),
        "minimum_tick_size": orjson.Fragment(fmt(m.tick, SCALE).encode()),
        "condition_id": m.condition_id,
        "question_id": "0x" + keccak(text=m.question).hex(),
        "question": m.question,
        "description": "A market of the loopback simulator.",
        "market_slug": m.slug,
        "end_date_iso": _iso(m.end_s) if m.end_s else None,
        "game_start_time": None,
        "seconds_delay": 0,
        "maker_base_fee": 0,
        "taker_base_fee": 0,
        "neg_risk": m.neg_risk,
        "neg_risk_market_id": ("0x" + keccak(text="event/" + m.slug).hex()) if m.neg_risk else "",
        "is_50_50_outcome": False,
        "rewards": {
            "rates": [
                {
                    "asset_address": COLLATERAL,
                    "rewards_daily_rate": orjson.Fragment(fmt(m.rewards_daily_rate, UNIT).encode()),
                }
            ]
            if m.rewards_daily_rate
            else None,
            "min_size": orjson.Fragment(fmt(m.rewards_min_size, UNIT).encode()),
            "max_spread": orjson.Fragment(fmt(m.rewards_max_spread * 100, SCALE).encode()),
        },
        "tokens": [
            {
                "token_id": t,
                "outcome": m.outcome(t),
                "price": orjson.Fragment(mark(srv, m, t).encode()),
                "winner": m.winner == t,
            }
            for t in (m.yes, m.no)
        ],
        "tags": ["simulator"],
    }


def gamma_json(srv: PolymarketSimServer, m: Market) -> dict[str, Any]:
    """A market as Gamma shows it (camelCase; `outcomes`, `outcomePrices` and `clobTokenIds` are
    JSON-encoded strings; prices, sizes and the reward settings JSON numbers), with any override."""

    def num(units: int, scale: int) -> orjson.Fragment:
        return orjson.Fragment(fmt(units, scale).encode())

    bids, asks = levels(srv, m, m.yes)
    last = m.last_trade.get(m.yes)
    created = _iso(m.created_s, millis=True)
    out: dict[str, Any] = {
        "id": m.gamma_id,
        "question": m.question,
        "conditionId": m.condition_id,
        "slug": m.slug,
        "resolutionSource": "",
        "endDate": _iso(m.end_s) if m.end_s else None,
        "startDate": created,
        "description": "A market of the loopback simulator.",
        "outcomes": json.dumps(list(m.outcomes)),
        "outcomePrices": json.dumps([mark(srv, m, t) for t in (m.yes, m.no)]),
        "active": not m.closed,
        "closed": m.closed,
        "archived": False,
        "restricted": False,
        "questionID": "0x" + keccak(text=m.question).hex(),
        "enableOrderBook": True,
        "orderPriceMinTickSize": num(m.tick, SCALE),
        "orderMinSize": num(m.min_size, UNIT),
        "endDateIso": _iso(m.end_s)[:10] if m.end_s else None,
        "startDateIso": created[:10],
        "secondsDelay": 0,
        "version": "v2" if m.protocol_v2 else "v1",
        # a Protocol V2 market trades under its position ids (polymarket-client `models/gamma/market.py`)
        **(
            {"positionIds": json.dumps([m.yes, m.no])}
            if m.protocol_v2
            else {"clobTokenIds": json.dumps([m.yes, m.no])}
        ),
        "acceptingOrders": not m.closed,
        "negRisk": m.neg_risk,
        **({"negRiskMarketID": "0x" + keccak(text="event/" + m.slug).hex()} if m.neg_risk else {}),
        "feesEnabled": False,
        "rewardsMinSize": num(m.rewards_min_size, UNIT),
        "rewardsMaxSpread": num(m.rewards_max_spread * 100, SCALE),  # cents
        "clobRewards": [
            {
                "id": str(int(m.gamma_id) * 10),
                "conditionId": m.condition_id,
                "assetAddress": COLLATERAL,
                "rewardsAmount": 0,
                "rewardsDailyRate": num(m.rewards_daily_rate, UNIT),
                "startDate": created[:10],
                "endDate": _iso(m.end_s)[:10] if m.end_s else None,
            }
        ]
        if m.rewards_daily_rate
        else [],
        "bestBid": num(max(bids), SCALE) if bids else None,
        "bestAsk": num(min(asks), SCALE) if asks else None,
        "spread": num(min(asks) - max(bids), SCALE) if bids and asks else None,
        "lastTradePrice": num(last[0], SCALE) if last else 0,
        "createdAt": created,
    }
    out.update(srv.gamma_overrides.get(m.condition_id, {}))
    return out


def mark(srv: PolymarketSimServer, m: Market, token: str) -> str:
    if m.closed:
        return "1" if m.winner == token else "0"
    mid = mid_price(srv, m, token)
    return fmt(mid, SCALE * 2) if mid is not None else "0.5"


def mid_price(srv: PolymarketSimServer, m: Market, token: str) -> int | None:
    """Twice the midpoint, in price units (exact), or None without a two-sided book."""
    bids, asks = levels(srv, m, token)
    if not bids or not asks:
        return None
    return max(bids) + min(asks)


def page(srv: PolymarketSimServer, items: list[dict[str, Any]], cursor: str, error: str) -> dict[str, Any]:
    try:
        start = int(base64.b64decode(cursor or START_CURSOR, validate=True).decode())
    except (ValueError, UnicodeDecodeError):
        raise ApiError(error) from None
    if start < 0:
        return {"limit": srv.page_size, "count": 0, "next_cursor": END_CURSOR, "data": []}
    page = items[start : start + srv.page_size]
    end = start + len(page)
    nxt = base64.b64encode(str(end).encode()).decode() if end < len(items) else END_CURSOR
    return {"limit": srv.page_size, "count": len(page), "next_cursor": nxt, "data": page}


def derive(srv: PolymarketSimServer, address: str, nonce: int) -> ApiKey:
    h = srv._hash("api-key", _key(address), str(nonce))
    return ApiKey(
        key=str(uuid.UUID(bytes=h[:16], version=4)),
        secret=base64.urlsafe_b64encode(srv._hash("secret", h.hex())).decode(),
        passphrase=srv._hash("passphrase", h.hex()).hex(),
        address=address,
        nonce=nonce,
    )


def l1(srv: PolymarketSimServer, request: web.Request, call: Call) -> None:
    h = request.headers
    address, sig, ts = h.get("POLY_ADDRESS", ""), h.get("POLY_SIGNATURE", ""), h.get("POLY_TIMESTAMP", "")
    try:
        nonce = int(h.get("POLY_NONCE", "0"))
        if not _ADDRESS.match(address) or not ts or nonce < 0:
            raise ValueError("missing L1 header")
        message = encode_typed_data(
            full_message={
                "types": {"EIP712Domain": _DOMAIN, "ClobAuth": _CLOB_AUTH},
                "primaryType": "ClobAuth",
                "domain": {"name": "ClobAuthDomain", "version": "1", "chainId": CHAIN_ID},
                "message": {
                    "address": address,
                    "timestamp": ts,
                    "nonce": nonce,
                    "message": CLOB_AUTH_MESSAGE,
                },
            }
        )
        signer = Account.recover_message(message, signature=bytes.fromhex(sig.removeprefix("0x")))
    except Exception:  # any malformed header or signature is the same answer
        raise ApiError(BAD_L1, 401) from None
    if _key(signer) != _key(address):
        raise ApiError(BAD_L1, 401)
    call.address, call.nonce = signer, nonce


def l2(srv: PolymarketSimServer, request: web.Request, call: Call) -> None:
    h = request.headers
    key = srv.keys.get(h.get("POLY_API_KEY", ""))
    if key is None or not auth.same_secret(key.passphrase, h.get("POLY_PASSPHRASE", "")):
        raise ApiError(UNAUTHORIZED, 401)
    if _key(h.get("POLY_ADDRESS", "")) != _key(key.address):
        raise ApiError(UNAUTHORIZED, 401)
    path = request.raw_path.partition("?")[0]  # the signature covers the path, never the query
    payload = h.get("POLY_TIMESTAMP", "").encode() + request.method.encode() + path.encode() + call.body
    if not h.get("POLY_TIMESTAMP") or not auth.hmac_sha256_b64url(
        key.secret, payload, h.get("POLY_SIGNATURE", "")
    ):
        raise ApiError(UNAUTHORIZED, 401)
    call.key, call.address = key, key.address


def throttle(srv: PolymarketSimServer, request: web.Request, call: Call) -> None:
    route = f"{request.method} {request.path}"
    limit = srv.rate_limits.get(route)
    if limit is None:
        return
    who = call.key.key if call.key else (request.remote or "")
    now = srv.now_ms()
    hits = [t for t in srv._hits.get((route, who), []) if t > now - limit[1]]
    if len(hits) >= limit[0]:
        srv._hits[(route, who)] = hits
        raise ApiError("Too Many Requests", 429)
    hits.append(now)
    srv._hits[(route, who)] = hits


def create_api_key(srv: PolymarketSimServer, call: Call) -> dict[str, str]:
    k = derive(srv, call.address, call.nonce)
    if k.key in srv.keys:
        raise ApiError("Could not create api key")
    srv.keys[k.key] = k
    return {"apiKey": k.key, "secret": k.secret, "passphrase": k.passphrase}


def derive_api_key(srv: PolymarketSimServer, call: Call) -> dict[str, str]:
    k = srv.keys.get(derive(srv, call.address, call.nonce).key)
    if k is None:
        raise ApiError("Could not derive api key!")
    return {"apiKey": k.key, "secret": k.secret, "passphrase": k.passphrase}


def api_keys(srv: PolymarketSimServer, call: Call) -> dict[str, list[str]]:
    mine = _key(call.api_key.address)
    return {"apiKeys": [k.key for k in srv.keys.values() if _key(k.address) == mine]}


def delete_api_key(srv: PolymarketSimServer, call: Call) -> str:
    srv.keys.pop(call.api_key.key, None)
    return "OK"


def get_markets(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    items = [market_json(srv, m) for m in srv.markets.values()]
    return page(srv, items, call.query.get("next_cursor", ""), "Invalid next_cursor")


def get_market(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    m = srv.markets.get(call.match["condition_id"])
    if m is None:
        raise ApiError("market not found", 404)
    return market_json(srv, m)


def clob_market(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    m = srv.markets.get(call.match["condition_id"])
    if m is None:
        raise ApiError("market not found", 404)
    return {
        "c": m.condition_id,
        "t": [{"t": t, "o": m.outcome(t)} for t in (m.yes, m.no)],
        "mts": orjson.Fragment(fmt(m.tick, SCALE).encode()),
        "mos": orjson.Fragment(fmt(m.min_size, UNIT).encode()),
        "nr": m.neg_risk,
        "fd": {"r": 0, "e": 0},  # no fees in the simulator
    }


def market_by_token(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    m = srv.tokens.get(call.match["token_id"])
    if m is None:
        raise ApiError("market not found", 404)
    return {"condition_id": m.condition_id}


def gamma_markets(srv: PolymarketSimServer, call: Call) -> list[dict[str, Any]]:
    """`GET /markets`: a JSON array, filtered by `condition_ids`, `clob_token_ids`, `slug`, `id`
    (each repeatable, any of the values) and `closed`, in Gamma id order, then `offset` and `limit`."""
    q, multi = call.query, call.multi
    try:
        limit = int(q.get("limit", GAMMA_LIMIT))
        offset = int(q.get("offset", 0))
    except ValueError:
        raise ApiError("invalid limit or offset", 422) from None
    if not 0 <= limit <= GAMMA_MAX_LIMIT or offset < 0:
        raise ApiError("invalid limit or offset", 422)
    closed = q.get("closed")
    if closed not in (None, "true", "false"):
        raise ApiError("invalid closed", 422)
    wanted = {k: set(multi.get(k, [])) for k in ("condition_ids", "clob_token_ids", "slug", "id")}
    items = [
        gamma_json(srv, m)
        for m in sorted(srv.markets.values(), key=lambda m: int(m.gamma_id))
        if (not wanted["condition_ids"] or m.condition_id in wanted["condition_ids"])
        and (not wanted["clob_token_ids"] or {m.yes, m.no} & wanted["clob_token_ids"])
        and (not wanted["slug"] or m.slug in wanted["slug"])
        and (not wanted["id"] or m.gamma_id in wanted["id"])
        and (closed is None or m.closed == (closed == "true"))
    ]
    return items[offset : offset + limit]


def gamma_market(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    """`GET /markets/{id}` by Gamma id."""
    m = next((m for m in srv.markets.values() if m.gamma_id == call.match["id"]), None)
    if m is None:
        raise ApiError("id not found", 404)
    return gamma_json(srv, m)


def get_book(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    m, token = market_for(srv, call)
    return book(srv, m, token)


def get_books(srv: PolymarketSimServer, call: Call) -> list[dict[str, Any]]:
    items = call.json("Invalid payload")
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
        raise ApiError("Invalid payload")
    if len(items) > 500:
        raise ApiError("Payload exceeds the limit")
    out = []
    for item in items:
        m = srv.tokens.get(str(item.get("token_id", "")))
        if m is None:
            raise ApiError("Invalid payload")
        out.append(book(srv, m, str(item["token_id"])))
    return out


def tick_size(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    m, _ = market_for(srv, call)
    return {"minimum_tick_size": orjson.Fragment(fmt(m.tick, SCALE).encode())}


def neg_risk(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    m, _ = market_for(srv, call)
    return {"neg_risk": m.neg_risk}


def fee_rate(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    market_for(srv, call)
    return {"base_fee": 0}


def midpoint(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    m, token = market_for(srv, call)
    mid = mid_price(srv, m, token)
    if mid is None:
        raise ApiError("No orderbook exists for the requested token id", 404)
    return {"mid": fmt(mid, 2 * SCALE)}


def spread(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    m, token = market_for(srv, call)
    bids, asks = levels(srv, m, token)
    if not bids or not asks:
        raise ApiError("No orderbook exists for the requested token id", 404)
    return {"spread": fmt(min(asks) - max(bids), SCALE)}


def last_trade_price(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    m, token = market_for(srv, call)
    last = m.last_trade.get(token)
    return {"price": fmt(last[0], SCALE) if last else "0.5", "side": last[1] if last else ""}


def order_json(srv: PolymarketSimServer, o: Order) -> dict[str, Any]:
    return {
        "id": o.id,
        "status": o.status,
        "owner": o.key,
        "maker_address": o.maker,
        "market": o.market.condition_id,
        "asset_id": o.token,
        "side": o.side,
        "original_size": fmt(o.size, UNIT),
        "size_matched": fmt(o.matched, UNIT),
        "price": fmt(o.price, SCALE),
        "outcome": o.market.outcome(o.token),
        "expiration": str(o.expiration),
        "order_type": o.order_type,
        "associate_trades": list(o.trades),
        "created_at": o.created_s,
    }


def get_order(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    o = srv.orders.get(call.match["order_id"])
    if o is None or o.key != call.api_key.key:
        raise ApiError("order not found", 404)
    return order_json(srv, o)


def get_orders(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    q = call.query
    items = [
        order_json(srv, o)
        for o in orders.live_of(srv, call.api_key.key)
        if (not q.get("id") or o.id == q["id"])
        and (not q.get("market") or o.market.condition_id == q["market"])
        and (not q.get("asset_id") or o.token == q["asset_id"])
    ]
    return page(srv, items, q.get("next_cursor", ""), "invalid order params payload")


def trade_json(srv: PolymarketSimServer, f: Fill, key: str) -> dict[str, Any]:
    mine = f.taker if f.taker.key == key else f.maker
    m, t = f.market, f.taker
    return {
        "id": f.id,
        "taker_order_id": t.id,
        "market": m.condition_id,
        "asset_id": t.token,
        "side": t.side,
        "size": fmt(f.size, UNIT),
        "fee_rate_bps": "0",
        "price": fmt(f.yes_price if t.token == m.yes else SCALE - f.yes_price, SCALE),
        "status": "CONFIRMED",
        "match_time": str(f.time_s),
        "last_update": str(f.time_s),
        "outcome": m.outcome(t.token),
        "bucket_index": 0,
        "owner": key,
        "maker_address": mine.maker,
        "transaction_hash": f.tx,
        "trader_side": "TAKER" if mine is t else "MAKER",
        "maker_orders": [
            {
                "order_id": f.maker.id,
                "owner": f.maker.key,
                "maker_address": f.maker.maker,
                "matched_amount": fmt(f.size, UNIT),
                "price": fmt(f.yes_price if f.maker.token == m.yes else SCALE - f.yes_price, SCALE),
                "fee_rate_bps": "0",
                "asset_id": f.maker.token,
                "outcome": m.outcome(f.maker.token),
                "side": f.maker.side,
            }
        ],
    }


def get_trades(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    q, key = call.query, call.api_key.key
    try:
        before, after = int(q.get("before") or 2**62), int(q.get("after") or 0)
    except ValueError:
        raise ApiError("Invalid trade params payload") from None
    items = [
        trade_json(srv, f, key)
        for f in srv.fills.values()
        if key in (f.taker.key, f.maker.key)
        and (not q.get("id") or f.id == q["id"])
        and (not q.get("market") or f.market.condition_id == q["market"])
        and (not q.get("asset_id") or q["asset_id"] in (f.taker.token, f.maker.token))
        and (
            not q.get("maker_address")
            or _key(q["maker_address"]) in (_key(f.taker.maker), _key(f.maker.maker))
        )
        and after <= f.time_s <= before
    ]
    return page(srv, items, q.get("next_cursor", ""), "Invalid trade params payload")


def balance_allowance(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    q, key = call.query, call.api_key
    try:
        sig_type = int(q.get("signature_type", "-1"))
    except ValueError:
        raise ApiError("Invalid signature_type") from None
    if sig_type not in (-1, 0, 1, 2, 3):
        raise ApiError("Invalid signature_type")
    owner = srv.funders.get((_key(key.address), sig_type), key.address)
    w = srv.wallet(owner)
    asset = q.get("asset_type", "")
    if asset == "COLLATERAL":
        return {
            "balance": str(w.collateral),
            "allowances": {s: str(w.allowance.get(_key(s), 0)) for s in SPENDERS},
        }
    if asset in ("CONDITIONAL", "CONDITIONAL-V2"):
        token = q.get("token_id", "")
        m = srv.tokens.get(token)
        if m is None:
            raise ApiError("Invalid token id")
        if m.protocol_v2 != (asset == "CONDITIONAL-V2"):  # a position id is CONDITIONAL-V2 [UNVERIFIED]
            raise ApiError("Invalid asset type")
        ops, spenders = (w.approved_v2, V2_OPERATORS) if m.protocol_v2 else (w.approved, SPENDERS)
        return {
            "balance": str(w.tokens.get(token, 0)),
            "allowances": {s: str(MAX_UINT256 if _key(s) in ops else 0) for s in spenders},
        }
    raise ApiError("Invalid asset type")


def scoring(srv: PolymarketSimServer, o: Order | None) -> bool:
    """Liquidity-rewards eligibility: live, big enough, within the max spread of the midpoint."""
    if o is None or not o.live or o.remaining < o.market.rewards_min_size:
        return False
    mid2 = mid_price(srv, o.market, o.token)
    return mid2 is not None and abs(2 * o.price - mid2) <= 2 * o.market.rewards_max_spread


def order_scoring(srv: PolymarketSimServer, call: Call) -> dict[str, bool]:
    o = srv.orders.get(call.query.get("order_id", ""))
    return {"scoring": scoring(srv, o if o and o.key == call.api_key.key else None)}


def orders_scoring(srv: PolymarketSimServer, call: Call) -> dict[str, bool]:
    ids = call.json()
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(BAD_PAYLOAD)
    key = call.api_key.key
    return {i: scoring(srv, o if (o := srv.orders.get(i)) and o.key == key else None) for i in ids}


def heartbeat(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    key = call.api_key
    body = call.json("Invalid heartbeat payload") or {}
    if not isinstance(body, dict):
        raise ApiError("Invalid heartbeat payload")
    if not key.heartbeat_id:
        key.heartbeat_id = str(uuid.UUID(bytes=srv._hash("heartbeat", key.key)[:16], version=4))
    key.heartbeat_deadline_ms = srv.now_ms() + srv.heartbeat_timeout_ms
    return {"status": "ok", "heartbeat_id": key.heartbeat_id}


def admin(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    body = call.json("a JSON object is expected")
    if not isinstance(body, dict):
        raise ApiError("a JSON object is expected")
    return body


def admin_fund(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    b = admin(srv, call)
    try:
        cash = b.get("collateral")
        srv.fund(
            str(b["address"]),
            collateral=None if cash is None else Decimal(str(cash)),
            tokens={str(t): Decimal(str(v)) for t, v in (b.get("tokens") or {}).items()},
        )
    except (KeyError, ValueError, TypeError, AttributeError, InvalidOperation) as e:
        raise ApiError(str(e)) from None
    return {"ok": True}


def admin_resolve(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    b = admin(srv, call)
    try:
        srv.resolve(str(b["condition_id"]), str(b["winner"]))
    except (KeyError, ValueError) as e:
        raise ApiError(str(e)) from None
    return {"ok": True}


def admin_tick_size(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    b = admin(srv, call)
    try:
        srv.set_tick_size(str(b["condition_id"]), Decimal(str(b["tick_size"])))
    except (KeyError, ValueError, InvalidOperation) as e:
        raise ApiError(str(e)) from None
    return {"ok": True}


def admin_end_date(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    b = admin(srv, call)
    try:
        srv.set_end_date(str(b["condition_id"]), datetime.fromisoformat(str(b["end_date"])))
    except (KeyError, ValueError) as e:
        raise ApiError(str(e)) from None
    return {"ok": True}


def admin_gamma_override(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    b = admin(srv, call)
    fields = b.get("fields")
    if not isinstance(fields, dict):
        raise ApiError("fields: a JSON object is expected")
    try:
        srv.set_gamma_override(str(b.get("condition_id", "")), fields)
    except ValueError as e:
        raise ApiError(str(e)) from None
    return {"ok": True}
