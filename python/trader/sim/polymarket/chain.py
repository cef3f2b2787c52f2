"""The Polymarket simulator's Polygon JSON-RPC: `eth_call` reads of pUSD, CTF and PositionManager
balances, allowances and approvals (`POST /rpc`, single or batch)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trader.sim.polymarket.state import (
    _SEL_ALLOWANCE,
    _SEL_APPROVED_FOR_ALL,
    _SEL_BALANCE_OF,
    _SEL_BALANCE_OF_1155,
    CHAIN_ID,
    COLLATERAL,
    CTF,
    MAX_UINT256,
    POSITION_MANAGER,
    SPENDERS,
    V2_OPERATORS,
    Call,
    Wallet,
    _key,
    _word,
)

if TYPE_CHECKING:
    from trader.sim.polymarket.server import PolymarketSimServer


def rpc(srv: PolymarketSimServer, call: Call) -> Any:
    req = call.json("Parse error")
    if isinstance(req, list):
        return [rpc_one(srv, r) for r in req]
    return rpc_one(srv, req)


def rpc_one(srv: PolymarketSimServer, req: Any) -> dict[str, Any]:
    if not isinstance(req, dict):
        return {"jsonrpc": "2.0", "id": None, "error": {"code": -32600, "message": "Invalid Request"}}
    rid, method, params = req.get("id"), req.get("method"), req.get("params") or []
    try:
        if method == "eth_chainId":
            result: Any = hex(CHAIN_ID)
        elif method == "net_version":
            result = str(CHAIN_ID)
        elif method == "eth_blockNumber":
            result = hex(srv.now_ms() // 2000)
        elif method == "eth_call":
            result = eth_call(srv, params[0])
        else:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}
    except (KeyError, IndexError, TypeError, ValueError, AttributeError):
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32000, "message": "execution reverted"}}
    return {"jsonrpc": "2.0", "id": rid, "result": result}


def eth_call(srv: PolymarketSimServer, tx: dict[str, Any]) -> str:
    to = _key(str(tx["to"]))
    data = str(tx.get("data") or tx.get("input") or "").removeprefix("0x").lower()
    selector, args = data[:8], [data[8 + 64 * i : 8 + 64 * (i + 1)] for i in range((len(data) - 8) // 64)]

    def address(i: int) -> str:
        return "0x" + args[i][24:]

    if to == _key(COLLATERAL) and selector == _SEL_BALANCE_OF:
        return _word(peek(srv, address(0)).collateral)
    if to == _key(COLLATERAL) and selector == _SEL_ALLOWANCE:
        return _word(peek(srv, address(0)).allowance.get(address(1), 0))
    if to == _key(CTF) and selector == _SEL_BALANCE_OF_1155:
        return _word(peek(srv, address(0)).tokens.get(str(int(args[1], 16)), 0))
    if to == _key(CTF) and selector == _SEL_APPROVED_FOR_ALL:
        return _word(int(address(1) in peek(srv, address(0)).approved))
    if to == _key(POSITION_MANAGER) and selector == _SEL_BALANCE_OF_1155:
        return _word(peek(srv, address(0)).tokens.get(str(int(args[1], 16)), 0))
    if to == _key(POSITION_MANAGER) and selector == _SEL_APPROVED_FOR_ALL:
        return _word(int(address(1) in peek(srv, address(0)).approved_v2))
    raise ValueError("unsupported call")


def peek(srv: PolymarketSimServer, address: str) -> Wallet:
    """A wallet as the chain sees it, without creating one for an address never used."""
    return srv.wallets.get(_key(address)) or Wallet(
        srv.default_collateral,
        allowance={_key(s): MAX_UINT256 for s in SPENDERS},
        approved={_key(s) for s in SPENDERS},
        approved_v2={_key(s) for s in V2_OPERATORS},
    )
