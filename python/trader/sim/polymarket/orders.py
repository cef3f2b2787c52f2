"""Orders in the Polymarket simulator: parsing and checking signed orders, funds, matching through
`trader.sim.matching` (complementary YES/NO books in YES space), settlement, cancels, and the seeded
background flow that keeps the books alive."""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from eth_account import Account
from eth_account.messages import encode_typed_data
from eth_utils.crypto import keccak

from trader.sim import matching
from trader.sim.polymarket import rest, ws
from trader.sim.polymarket.state import (
    _ADDRESS,
    _DOMAIN,
    _ORDER,
    AMPLE,
    BAD_PAYLOAD,
    CHAIN_ID,
    GTD_THRESHOLD_S,
    MAX_BATCH,
    MAX_UINT256,
    NO_BALANCE,
    ORDER_TYPES,
    SCALE,
    UNIT,
    ApiError,
    ApiKey,
    Background,
    Call,
    Fill,
    Market,
    Order,
    _arrivals,
    _digest,
    _flip,
    _key,
    _snap,
    _yes_side,
    fmt,
    to_units,
)

if TYPE_CHECKING:
    from trader.sim.polymarket.server import PolymarketSimServer


@dataclass(frozen=True)
class _Wire:
    """A `POST /order(s)` item's order, decoded and checked for shape (not yet for meaning)."""

    maker: str
    signer: str
    token: str
    side: str
    sig_type: int
    order_type: str
    maker_amount: int
    taker_amount: int
    expiration: int
    post_only: bool
    message: dict[str, Any]
    signature: bytes


def _decode(item: Any) -> _Wire:
    if not isinstance(item, dict) or not isinstance(item.get("order"), dict):
        raise ApiError(BAD_PAYLOAD)
    o = item["order"]
    if "timestamp" not in o and any(f in o for f in ("taker", "nonce", "feeRateBps")):
        raise ApiError("order_version_mismatch")
    try:
        maker, signer, token = str(o["maker"]), str(o["signer"]), str(o["tokenId"])
        side, sig_type, order_type = o["side"], int(o["signatureType"]), item.get("orderType", "GTC")
        maker_amount, taker_amount = int(o["makerAmount"]), int(o["takerAmount"])
        metadata = bytes.fromhex(str(o["metadata"]).removeprefix("0x"))
        builder = bytes.fromhex(str(o["builder"]).removeprefix("0x"))
        message: dict[str, Any] = {
            "salt": int(o["salt"]),
            "maker": maker,
            "signer": signer,
            "tokenId": int(token),
            "makerAmount": maker_amount,
            "takerAmount": taker_amount,
            "side": ("BUY", "SELL").index(side),
            "signatureType": sig_type,
            "timestamp": int(o["timestamp"]),
            "metadata": metadata,
            "builder": builder,
        }
        wire = _Wire(
            maker, signer, token, side, sig_type, order_type, maker_amount, taker_amount,
            int(o.get("expiration") or 0), item.get("postOnly", False), message,
            bytes.fromhex(str(o["signature"]).removeprefix("0x")),
        )  # fmt: skip
    except (KeyError, ValueError, TypeError):
        raise ApiError(BAD_PAYLOAD) from None
    if (
        not _ADDRESS.match(maker)
        or not _ADDRESS.match(signer)
        or order_type not in ORDER_TYPES
        or not isinstance(wire.post_only, bool)
        or maker_amount <= 0
        or taker_amount <= 0
        or len(metadata) != 32
        or len(builder) != 32
        or sig_type not in (0, 1, 2, 3)
    ):
        raise ApiError(BAD_PAYLOAD)
    return wire


_ORDER_TYPE = (
    "Order(uint256 salt,address maker,address signer,uint256 tokenId,uint256 makerAmount,uint256 takerAmount,"
    "uint8 side,uint8 signatureType,uint256 timestamp,bytes32 metadata,bytes32 builder)"
)
_TYPED_DATA_SIGN = [
    {"name": "contents", "type": "Order"},
    {"name": "name", "type": "string"},
    {"name": "version", "type": "string"},
    {"name": "chainId", "type": "uint256"},
    {"name": "verifyingContract", "type": "address"},
    {"name": "salt", "type": "bytes32"},
]


def _domain(m: Market) -> dict[str, Any]:
    return {
        "name": "Polymarket CTF Exchange",
        "version": m.domain_version,
        "chainId": CHAIN_ID,
        "verifyingContract": m.exchange,
    }


def _verify(w: _Wire, m: Market) -> tuple[str, str]:
    """(order id: its EIP-712 hash on the market's exchange, the EOA that signed), once the signature
    checks out: a plain EIP-712 signature (EOA, POLY_PROXY, POLY_GNOSIS_SAFE) or, for POLY_1271 (an
    ERC-1271 deposit wallet, the order's `signer`), the ERC-7739 `TypedDataSign` wrapper the official SDKs
    build (polymarket-client `typed_data.py`): 65 signature bytes, the exchange's domain separator, the
    order's struct hash, the `Order` type string and its 2-byte length."""
    types: dict[str, Any] = {
        "EIP712Domain": [*_DOMAIN, {"name": "verifyingContract", "type": "address"}],
        "Order": _ORDER,
    }
    typed = encode_typed_data(
        full_message={"types": types, "primaryType": "Order", "domain": _domain(m), "message": w.message}
    )
    order_id = "0x" + _digest(typed).hex()
    sig = w.signature
    if w.sig_type == 3:
        trailer = typed.header + typed.body + _ORDER_TYPE.encode() + len(_ORDER_TYPE).to_bytes(2, "big")
        if sig[65:] != trailer:
            raise ApiError("invalid signature")
        message = {
            "contents": w.message, "name": "DepositWallet", "version": "1", "chainId": CHAIN_ID,
            "verifyingContract": w.signer, "salt": b"\x00" * 32,
        }  # fmt: skip
        typed = encode_typed_data(
            full_message={
                "types": {**types, "TypedDataSign": _TYPED_DATA_SIGN},
                "primaryType": "TypedDataSign",
                "domain": _domain(m),
                "message": message,
            }
        )
        sig = sig[:65]
    try:
        recovered = Account.recover_message(typed, signature=sig)
    except Exception:  # malformed signature bytes: the same answer as a wrong signer
        raise ApiError("invalid signature") from None
    if (w.sig_type != 3 and _key(recovered) != _key(w.signer)) or (
        w.sig_type in (0, 3) and _key(w.maker) != _key(w.signer)
    ):
        raise ApiError("invalid signature")
    return order_id, recovered


def _size_price(w: _Wire, m: Market, order_id: str) -> tuple[int, int]:
    """(shares, price in SCALE units): a limit order's exact price, a market order's worst price."""
    size, cash = (w.taker_amount, w.maker_amount) if w.side == "BUY" else (w.maker_amount, w.taker_amount)
    limit = w.order_type in ("GTC", "GTD")
    if limit:
        price = cash * SCALE // size if cash * SCALE % size == 0 else -1
    elif w.side == "BUY":
        price = cash * SCALE // size  # the most it may pay
    else:
        price = -(-cash * SCALE // size)  # the least it may take
    if (limit and (price < 0 or price % m.tick)) or not m.tick <= price <= SCALE - m.tick:
        shown = Decimal(cash) / Decimal(size)
        raise ApiError(
            f"order {order_id} is invalid. Price ({shown.normalize():f}) breaks minimum tick size rule: "
            f"{fmt(m.tick, SCALE)}"
        )
    if limit and size < m.min_size:
        raise ApiError(
            f"order {order_id} is invalid. Size ({fmt(size, UNIT)}) lower than the minimum: "
            f"{fmt(m.min_size, UNIT)}"
        )
    return size, price


def parse(srv: PolymarketSimServer, item: Any, key: ApiKey) -> Order:
    """Validate one `{order, owner, orderType, postOnly}` up to (not including) balances and matching."""
    w = _decode(item)
    if item.get("owner") != key.key:
        raise ApiError("the order owner has to be the owner of the API KEY")
    m = srv.tokens.get(w.token)
    if m is None:
        raise ApiError(BAD_PAYLOAD)
    order_id, eoa = _verify(w, m)
    if _key(eoa) != _key(key.address):  # for POLY_1271, the EOA that signed for the wallet
        raise ApiError("the order signer address has to be the address of the API KEY")
    if srv.deposit_wallet_only and w.sig_type != 3:  # the venue's answer to new accounts (see __init__)
        raise ApiError("maker address not allowed, please use the deposit wallet flow")
    if m.closed:
        raise ApiError("the market is not yet ready to process new orders")
    size, price = _size_price(w, m, order_id)
    if order_id in srv.orders:
        raise ApiError(f"order {order_id} is invalid. Duplicated.")
    now_s = srv.now_ms() // 1000
    gtd = w.order_type == "GTD"
    if gtd != (w.expiration != 0) or (gtd and w.expiration <= now_s + GTD_THRESHOLD_S):
        raise ApiError("invalid expiration")
    if w.post_only and w.order_type not in ("GTC", "GTD"):
        raise ApiError("invalid post-only order: only GTC and GTD order types are allowed")
    if w.sig_type in (1, 2, 3):
        srv.link_funder(eoa, w.maker, w.sig_type)
    return Order(
        id=order_id,
        key=key.key,
        signer=w.signer,
        maker=w.maker,
        market=m,
        token=w.token,
        side=w.side,
        order_type=w.order_type,
        price=price,
        size=size,
        maker_amount=w.maker_amount,
        expiration=w.expiration,
        created_s=now_s,
        post_only=w.post_only,
        engine_id=next(srv._engine_ids),
    )


def check_funds(srv: PolymarketSimServer, o: Order) -> None:
    w = srv.wallet(o.maker)
    mine = [x for x in srv.orders.values() if x.live and _key(x.maker) == _key(o.maker)]
    if o.side == "BUY":
        held = sum(x.reserved() for x in mine if x.side == "BUY")
        allowed = w.allowance.get(_key(o.market.exchange), 0)
        if w.collateral - held < o.maker_amount or allowed < o.maker_amount:
            raise ApiError(NO_BALANCE)
    else:
        held = sum(x.reserved() for x in mine if x.side == "SELL" and x.token == o.token)
        if w.tokens.get(o.token, 0) - held < o.size or _key(o.market.exchange) not in (
            w.approved_v2 if o.market.protocol_v2 else w.approved
        ):
            raise ApiError(NO_BALANCE)


def cost(m: Market, token: str, shares: int, price: int) -> int:
    """What `shares` cost at `price` (own token space), rounded exactly as `_cash` settles them."""
    if token == m.yes:
        return shares * price // SCALE
    return shares - shares * (SCALE - price) // SCALE


def market_buy_shares(srv: PolymarketSimServer, o: Order) -> tuple[int, bool]:
    """A market BUY spends its whole makerAmount (pUSD) on the asks up to its price: the shares
    that buys, and whether the money ran out before the crossing asks did."""
    m, cash, shares = o.market, o.maker_amount, 0
    _, asks = rest.levels(srv, m, o.token)
    for p in sorted(asks):
        if p > o.price or not cash:
            break
        q = min(asks[p], cash * SCALE // p)
        while q and cost(m, o.token, q, p) > cash:
            q -= 1
        shares += q
        cash -= cost(m, o.token, q, p)
        if q < asks[p]:
            return shares, True
    return shares, cash == 0


def submit(srv: PolymarketSimServer, item: Any, key: ApiKey) -> dict[str, Any]:
    o = parse(srv, item, key)
    check_funds(srv, o)
    m = o.market
    if o.side == "BUY" and o.order_type in ("FOK", "FAK"):
        shares, spent_all = market_buy_shares(srv, o)
        if o.order_type == "FOK" and not spent_all:
            raise ApiError("order couldn't be fully filled. FOK orders are fully filled or killed.")
        o.size = max(shares, 1)  # nothing crossing: the engine finds no match either
    yes = o.token == m.yes
    buy_yes_space = (o.side == "BUY") == yes
    tif = {"FOK": matching.Tif.FOK, "FAK": matching.Tif.IOC}.get(o.order_type, matching.Tif.GTC)
    sim = matching.SimOrder(
        o.engine_id,
        o.key,
        matching.Side.BUY if buy_yes_space else matching.Side.SELL,
        o.price if yes else SCALE - o.price,
        o.size,
        tif,
        post_only=o.post_only,
    )
    result = m.engine.submit(sim)
    if not result.accepted:
        if o.post_only:
            raise ApiError("invalid post-only order: order crosses book")
        raise ApiError("order couldn't be fully filled. FOK orders are fully filled or killed.")
    if o.order_type == "FAK" and not result.trades:
        raise ApiError(
            "no orders found to match with FAK order. "
            "FAK orders are partially filled or killed if no match is found."
        )
    srv.orders[o.id] = o
    srv._by_engine[o.engine_id] = o
    if result.resting:
        ws.user_order(srv, o, "PLACEMENT")
    fills = [settle(srv, m, t) for t in result.trades]
    if not result.resting:
        o.status = "MATCHED" if o.matched else "CANCELED"  # a FAK's unfilled rest is dropped
        srv._by_engine.pop(o.engine_id, None)
    ws.publish_market(srv, m, fills)
    making = sum(cash_delta(f, o) for f in fills) if o.side == "BUY" else o.matched
    taking = o.matched if o.side == "BUY" else sum(cash_delta(f, o) for f in fills)
    return {
        "success": True,
        "errorMsg": "",
        "orderID": o.id,
        "status": "live" if result.resting and not fills else "matched" if fills else "unmatched",
        "makingAmount": fmt(making, UNIT) if fills else "",
        "takingAmount": fmt(taking, UNIT) if fills else "",
        "transactionsHashes": [f.tx for f in fills],
        "tradeIDs": [f.id for f in fills],
    }


def cash_delta(f: Fill, o: Order) -> int:
    """The pUSD side of a fill for one of its two orders (mint and merge split 1 pUSD per share)."""
    yes_leg = f.size * f.yes_price // SCALE
    return yes_leg if o.token == f.market.yes else f.size - yes_leg


def settle(srv: PolymarketSimServer, m: Market, t: matching.Trade) -> Fill:
    taker, maker = srv._by_engine[t.taker_order_id], srv._by_engine[t.maker_order_id]
    now_s = srv.now_ms() // 1000
    fid = str(uuid.UUID(bytes=srv._hash("trade", str(next(srv._fill_ids)))[:16], version=4))
    f = Fill(fid, m, taker, maker, t.qty, t.price, now_s, "0x" + keccak(text=fid).hex())
    for o in (taker, maker):
        w, cash = srv.wallet(o.maker), cash_delta(f, o)
        if o.side == "BUY":
            w.collateral -= cash
            w.tokens[o.token] = w.tokens.get(o.token, 0) + t.qty
            spender = _key(m.exchange)
            if w.allowance.get(spender, 0) != MAX_UINT256:
                w.allowance[spender] = w.allowance.get(spender, 0) - cash
        else:
            w.tokens[o.token] = w.tokens.get(o.token, 0) - t.qty
            w.collateral += cash
        o.matched += t.qty
        o.trades.append(fid)
    if maker.remaining == 0:
        maker.status = "MATCHED"
        srv._by_engine.pop(maker.engine_id, None)
    if not {taker.key, maker.key} <= srv._background_keys:  # the venue's records of API keys' trades
        srv.fills[fid] = f
    srv.tape.append(f)
    yes_side = _yes_side(f)
    m.last_trade[m.yes] = (t.price, yes_side)
    m.last_trade[m.no] = (SCALE - t.price, _flip(yes_side))
    ws.user_order(srv, maker, "UPDATE")
    ws.user_trade(srv, f)
    return f


def post_order(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    return submit(srv, call.json(), call.api_key)


def post_orders(srv: PolymarketSimServer, call: Call) -> list[dict[str, Any]]:
    items = call.json()
    if not isinstance(items, list):
        raise ApiError(BAD_PAYLOAD)
    if len(items) > MAX_BATCH:
        raise ApiError(f"Too many orders in payload: {len(items)}, max allowed: {MAX_BATCH}")
    out = []
    for item in items:
        try:
            out.append(submit(srv, item, call.api_key))
        except ApiError as e:
            out.append(
                {
                    "success": False,
                    "errorMsg": e.msg,
                    "orderID": "",
                    "status": "",
                    "makingAmount": "",
                    "takingAmount": "",
                    "transactionsHashes": [],
                    "tradeIDs": [],
                }
            )
    return out


def cancel(srv: PolymarketSimServer, o: Order, status: str = "CANCELED") -> None:
    o.market.engine.cancel(o.engine_id)
    srv._by_engine.pop(o.engine_id, None)
    o.status = status
    ws.user_order(srv, o, "CANCELLATION")


def cancel_many(srv: PolymarketSimServer, key: ApiKey, ids: list[str]) -> dict[str, Any]:
    canceled: list[str] = []
    not_canceled: dict[str, str] = {}
    touched: dict[str, Market] = {}
    for oid in ids:
        o = srv.orders.get(oid)
        if o is None or o.key != key.key:
            not_canceled[oid] = "order not found"
        elif not o.live:
            not_canceled[oid] = "already canceled or matched"
        else:
            cancel(srv, o)
            canceled.append(oid)
            touched[o.market.condition_id] = o.market
    for m in touched.values():
        ws.publish_market(srv, m)
    return {"canceled": canceled, "not_canceled": not_canceled}


def cancel_order(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    body = call.json()
    if not isinstance(body, dict) or not isinstance(body.get("orderID"), str) or not body["orderID"]:
        raise ApiError("Invalid orderID")
    return cancel_many(srv, call.api_key, [body["orderID"]])


def cancel_orders(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    ids = call.json()
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise ApiError(BAD_PAYLOAD)
    if len(ids) > 3000:
        raise ApiError("Too many orders in payload, max allowed: 3000")
    return cancel_many(srv, call.api_key, ids)


def live_of(srv: PolymarketSimServer, key: str) -> list[Order]:
    return [o for o in srv.orders.values() if o.key == key and o.live]


def cancel_all(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    return cancel_many(srv, call.api_key, [o.id for o in live_of(srv, call.api_key.key)])


def cancel_market_orders(srv: PolymarketSimServer, call: Call) -> dict[str, Any]:
    body = call.json() or {}
    if not isinstance(body, dict):
        raise ApiError(BAD_PAYLOAD)
    market, asset = str(body.get("market") or ""), str(body.get("asset_id") or "")
    ids = [
        o.id
        for o in live_of(srv, call.api_key.key)
        if (not market or o.market.condition_id == market) and (not asset or o.token == asset)
    ]
    return cancel_many(srv, call.api_key, ids)


def start_background(srv: PolymarketSimServer, m: Market) -> None:
    """Seed `m`'s fair from the server's seed and rest `seed_levels` levels a side around it."""
    p = srv.background_params
    rng = random.Random(f"polymarket-sim/{srv.seed}/{m.condition_id}")
    lo, hi = (to_units(x, SCALE) for x in p.start)
    m.background = Background(rng, rng.randint(lo, hi))
    lo, hi = fair_bounds(srv, m)
    m.background.fair = min(max(_snap(m.background.fair, m.tick), lo), hi)
    top_up(srv, m)
    for distance in range(1, p.seed_levels + 1):
        for side in (matching.Side.BUY, matching.Side.SELL):
            background_limit(srv, m, side, distance)
    m.published = rest.levels(srv, m, m.yes)


def fair_bounds(srv: PolymarketSimServer, m: Market) -> tuple[int, int]:
    lo, hi = (to_units(x, SCALE) for x in srv.background_params.bounds)
    lo = -(-max(lo, m.tick) // m.tick) * m.tick
    hi = min(hi, SCALE - m.tick) // m.tick * m.tick
    return lo, max(lo, hi)


def top_up(srv: PolymarketSimServer, m: Market) -> None:
    """Participants never run out: below half of `AMPLE` pUSD or shares, they are funded again."""
    for address, _ in srv.participants:
        w = srv.wallet(address)
        if w.collateral < AMPLE // 2:
            w.collateral = AMPLE
        for token in (m.yes, m.no):
            if w.tokens.get(token, 0) < AMPLE // 2:
                w.tokens[token] = AMPLE


def background_order(
    srv: PolymarketSimServer, m: Market, yes_side: matching.Side, yes_price: int, shares: int, ioc: bool
) -> list[Fill]:
    """A participant's order through the normal matching: a YES-space bid is a YES buy or a NO sell, an
    ask a YES sell or a NO buy (so mints, merges and transfers all happen)."""
    bg = m.background
    assert bg is not None
    address, owner = bg.rng.choice(srv.participants)
    as_no = bg.rng.random() < 0.5
    buy = (yes_side is matching.Side.BUY) != as_no
    price = SCALE - yes_price if as_no else yes_price
    size = shares * UNIT
    eid = next(srv._engine_ids)
    o = Order(
        id="0x" + keccak(srv._hash("background-order", str(eid))).hex(),
        key=owner,
        signer=address,
        maker=address,
        market=m,
        token=m.no if as_no else m.yes,
        side="BUY" if buy else "SELL",
        order_type="FAK" if ioc else "GTC",
        price=price,
        size=size,
        maker_amount=size * price // SCALE if buy else size,
        expiration=0,
        created_s=srv.now_ms() // 1000,
        post_only=False,
        engine_id=eid,
    )
    tif = matching.Tif.IOC if ioc else matching.Tif.GTC
    srv._by_engine[eid] = o
    result = m.engine.submit(matching.SimOrder(eid, owner, yes_side, yes_price, size, tif))
    fills = [settle(srv, m, t) for t in result.trades]
    if result.resting:
        bg.resting[eid] = o
    else:
        o.status = "MATCHED" if o.matched else "CANCELED"
        srv._by_engine.pop(eid, None)
    return fills


def background_limit(srv: PolymarketSimServer, m: Market, side: matching.Side, distance: int) -> list[Fill]:
    assert m.background is not None
    center = _snap(m.background.fair, m.tick)
    price = center - distance * m.tick if side is matching.Side.BUY else center + distance * m.tick
    if not m.tick <= price <= SCALE - m.tick:
        return []
    smallest = -(-m.min_size // UNIT)
    shares = m.background.rng.randint(smallest, max(smallest, srv.background_params.max_limit_shares))
    return background_order(srv, m, side, price, shares, ioc=False)


def step_background(srv: PolymarketSimServer, m: Market, dt_ns: int) -> tuple[bool, list[Fill]]:
    """Advance `m`'s background by `dt_ns` (at most 1 s at a time): the fair's walk, then Poisson
    arrivals of limit orders, marketable orders and cancels. Whether anything arrived, and the fills."""
    bg, p = m.background, srv.background_params
    assert bg is not None
    rng, changed, fills = bg.rng, False, []
    while dt_ns > 0:
        dt = min(dt_ns, 1_000_000_000) / 1e9
        dt_ns -= 1_000_000_000
        t = m.tick
        top_up(srv, m)
        lo, hi = fair_bounds(srv, m)
        fair = min(max(_snap(bg.fair, t), lo), hi)
        moves = float(p.volatility * SCALE / t) ** 2 * dt  # +-1 tick moves: variance volatility^2 dt
        for _ in range(_arrivals(rng, moves)):
            step = t if rng.random() < 0.5 else -t
            fair += step if lo <= fair + step <= hi else -step if lo <= fair - step <= hi else 0
        bg.fair = fair
        for _ in range(_arrivals(rng, p.limit_rate * dt)):
            side = matching.Side.BUY if rng.random() < 0.5 else matching.Side.SELL
            fills += background_limit(srv, m, side, 1 + int(rng.expovariate(1 / p.mean_distance_ticks)))
            changed = True
        for _ in range(_arrivals(rng, p.market_rate * dt)):
            side = matching.Side.BUY if rng.random() < 0.5 else matching.Side.SELL
            reach = p.reach_ticks * t
            price = min(fair + reach, SCALE - t) if side is matching.Side.BUY else max(fair - reach, t)
            fills += background_order(srv, m, side, price, rng.randint(1, p.max_market_shares), ioc=True)
            changed = True
        bg.resting = {i: o for i, o in bg.resting.items() if o.live}
        for _ in range(min(_arrivals(rng, len(bg.resting) * p.cancel_rate * dt), len(bg.resting))):
            cancel(srv, bg.resting.pop(rng.choice(list(bg.resting))))
            changed = True
    return changed, fills
