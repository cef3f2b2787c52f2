"""The Polymarket simulator's Polygon JSON-RPC (`POST /rpc`, single or batch): `eth_call` reads of pUSD,
CTF and PositionManager balances, allowances and approvals, and the transactions `trader approve` sends
(`eth_getTransactionCount`, `eth_gasPrice`, `eth_sendRawTransaction` of a signed legacy EIP-155
transaction, recovered with eth-account: pUSD `approve`, CTF and PositionManager `setApprovalForAll`, the
CollateralOnramp's `wrap` (the simulator's wallets hold any USDC.e asked for), `eth_getTransactionReceipt`).
Transactions apply at once, in nonce order; a wrong nonce or chain id is refused as a node would."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import rlp  # type: ignore[import-untyped]
from eth_account import Account
from eth_utils.crypto import keccak

from trader.sim.polymarket.state import (
    _SEL_ALLOWANCE,
    _SEL_APPROVED_FOR_ALL,
    _SEL_BALANCE_OF,
    _SEL_BALANCE_OF_1155,
    CHAIN_ID,
    COLLATERAL,
    COLLATERAL_ONRAMP,
    CTF,
    POSITION_MANAGER,
    USDC_E,
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
        elif method in TX_METHODS:
            result = TX_METHODS[method](srv, params)
        else:
            return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32601, "message": "Method not found"}}
    except NodeError as e:
        return {"jsonrpc": "2.0", "id": rid, "error": {"code": -32000, "message": str(e)}}
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
    return srv.wallets.get(_key(address)) or Wallet.fresh(srv.default_collateral)


SEL_APPROVE, SEL_SET_APPROVAL_FOR_ALL, SEL_WRAP = "095ea7b3", "a22cb465", "62355638"


class NodeError(ValueError):
    """A transaction a node refuses (its message is the answer's)."""


GAS_PRICE = 30 * 10**9  # wei


def _nonce(srv: PolymarketSimServer, params: list[Any]) -> str:
    return hex(srv.chain_nonces.get(_key(str(params[0])), 0))


def _gas_price(srv: PolymarketSimServer, params: list[Any]) -> str:
    return hex(GAS_PRICE)


def _receipt(srv: PolymarketSimServer, params: list[Any]) -> dict[str, Any] | None:
    return srv.chain_receipts.get(str(params[0]).lower())


def _send_raw(srv: PolymarketSimServer, params: list[Any]) -> str:
    """Apply a signed legacy EIP-155 transaction (its sender recovered with eth-account)."""
    raw = bytes.fromhex(str(params[0]).removeprefix("0x"))
    try:
        fields = rlp.decode(raw)
    except Exception:  # rlp's DecodingError is no ValueError
        raise NodeError("rlp: invalid transaction") from None
    if not isinstance(fields, list) or len(fields) != 9:
        raise NodeError("only legacy transactions are served")
    nonce, to, data, v = (
        int.from_bytes(fields[0], "big"),
        "0x" + fields[3].hex(),
        fields[5].hex(),
        fields[6],
    )
    if (int.from_bytes(v, "big") - 35) // 2 != CHAIN_ID:
        raise NodeError("invalid chain id")
    sender = _key(Account.recover_transaction(raw))
    if nonce != srv.chain_nonces.get(sender, 0):
        raise NodeError("nonce too low" if nonce < srv.chain_nonces.get(sender, 0) else "nonce too high")
    status = _apply(srv, sender, _key(to), data)
    srv.chain_nonces[sender] = nonce + 1
    tx_hash = "0x" + keccak(raw).hex()
    srv.chain_receipts[tx_hash] = {
        "transactionHash": tx_hash,
        "from": sender,
        "to": to,
        "status": hex(status),
    }
    return tx_hash


def _apply(srv: PolymarketSimServer, sender: str, to: str, data: str) -> int:
    """A transaction's effect on the simulator's wallets: 1 applied, 0 reverted (an unknown call)."""
    selector, args = data[:8], [data[8 + 64 * i : 8 + 64 * (i + 1)] for i in range((len(data) - 8) // 64)]
    w = srv.wallet(sender)
    if to == _key(COLLATERAL) and selector == SEL_APPROVE:
        w.allowance["0x" + args[0][24:]] = int(args[1], 16)
    elif to in (_key(CTF), _key(POSITION_MANAGER)) and selector == SEL_SET_APPROVAL_FOR_ALL:
        ops = w.approved if to == _key(CTF) else w.approved_v2
        (ops.add if int(args[1], 16) else ops.discard)("0x" + args[0][24:])
    elif to == _key(USDC_E) and selector == SEL_APPROVE:
        pass  # USDC.e is not tracked: any amount may be wrapped
    elif to == _key(COLLATERAL_ONRAMP) and selector == SEL_WRAP:
        srv.wallet("0x" + args[1][24:]).collateral += int(args[2], 16)
    else:
        return 0
    return 1


TX_METHODS: dict[str, Callable[[PolymarketSimServer, list[Any]], Any]] = {
    "eth_getTransactionCount": _nonce,
    "eth_gasPrice": _gas_price,
    "eth_sendRawTransaction": _send_raw,
    "eth_getTransactionReceipt": _receipt,
}
