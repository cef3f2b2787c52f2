"""The wallet on Polygon, read by JSON-RPC `eth_call` (one batch): pUSD balance and allowance for the
market's exchange, the ERC-1155 approval of that exchange, and each outcome's ERC-1155 balance. A CTF
market's outcomes are Conditional Tokens; a Protocol V2 market's positions live in the PositionManager
(approved to ExchangeV3), per polymarket-client 0.14.0 `_internal/actions/relayer/approvals.py`."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import orjson

from trader.errors import TraderError, VenueUnavailableError
from trader.venues._http import HttpClient
from trader.venues.polymarket.endpoints import COLLATERAL, CTF, POSITION_MANAGER

SEL_BALANCE_OF = "70a08231"  # balanceOf(address)
SEL_ALLOWANCE = "dd62ed3e"  # allowance(address,address)
SEL_BALANCE_OF_1155 = "00fdd58e"  # balanceOf(address,uint256)
SEL_APPROVED_FOR_ALL = "e985e9c5"  # isApprovedForAll(address,address)


@dataclass(frozen=True)
class ChainBalance:
    """What Polygon says about the wallet (`funder`), in 6-decimal micro-units."""

    address: str
    collateral: int  # pUSD
    allowance: int  # pUSD the market's exchange may move
    tokens: dict[str, int]  # symbol -> micro-shares
    approved: bool  # setApprovalForAll(exchange) on the CTF (PositionManager for a Protocol V2 market)


def word(hex_word: str) -> int:
    """One 32-byte `eth_call` result as an integer ("0x" alone is 0)."""
    return int(hex_word, 16) if hex_word not in ("", "0x") else 0


def calls(
    funder: str, exchange: str, tokens: Mapping[str, str], *, v2: bool = False
) -> list[tuple[str, str]]:
    """(contract, call data without 0x) of the batch, in the order `chain_balance` reads them."""
    owner = funder.lower().removeprefix("0x").rjust(64, "0")
    spender = exchange.lower().removeprefix("0x").rjust(64, "0")
    erc1155 = POSITION_MANAGER if v2 else CTF
    return [
        (COLLATERAL, SEL_BALANCE_OF + owner),
        (COLLATERAL, SEL_ALLOWANCE + owner + spender),
        (erc1155, SEL_APPROVED_FOR_ALL + owner + spender),
        *[(erc1155, SEL_BALANCE_OF_1155 + owner + f"{int(t):064x}") for t in tokens.values()],
    ]


async def chain_balance(
    rpc: HttpClient, venue: str, funder: str, exchange: str, tokens: Mapping[str, str], *, v2: bool = False
) -> ChainBalance:
    """The wallet `funder` on Polygon; `tokens` maps symbol -> token id (position id with `v2`)."""
    batch_calls = calls(funder, exchange, tokens, v2=v2)
    batch = [
        {
            "jsonrpc": "2.0",
            "id": i,
            "method": "eth_call",
            "params": [{"to": to, "data": "0x" + data}, "latest"],
        }
        for i, (to, data) in enumerate(batch_calls)
    ]
    resp = await rpc.request(
        "POST", "", body=orjson.dumps(batch), headers={"Content-Type": "application/json"}, mutating=False
    )
    replies = orjson.loads(resp.body)
    by_id = {r.get("id"): r for r in replies} if isinstance(replies, list) else {}
    words: list[int] = []
    for i in range(len(batch_calls)):
        r = by_id.get(i) or {}
        if "result" not in r:
            msg = str((r.get("error") or {}).get("message", "no result"))[:120]
            raise VenueUnavailableError(f"eth_call {i}: {msg}", venue=venue)
        words.append(word(str(r["result"])))
    return ChainBalance(funder, words[0], words[1], dict(zip(tokens, words[3:], strict=True)), bool(words[2]))


def rpc_host(url: str) -> str:
    """The RPC's scheme and host only: a provider's URL often carries an API key in its path or query."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or '?'}" if parts.scheme else "?"


async def rpc_check(rpc: HttpClient | None, url: str | None, chain_id: int) -> tuple[str, bool | None, str]:
    """`trader testnet`'s Polygon RPC check: `eth_chainId` answers with the chain the wallet signs for."""
    name = "polygon rpc"
    if rpc is None or not url:
        return name, None, "no rpc_url configured: chain_balance() and approvals need one"
    body = orjson.dumps({"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []})
    try:
        resp = await rpc.request(
            "POST", "", body=body, headers={"Content-Type": "application/json"}, mutating=False
        )
        answer = orjson.loads(resp.body)
        got = int(str(answer["result"]), 16)
    except (TraderError, OSError, TimeoutError, ValueError, KeyError, TypeError) as e:
        why = str(e).splitlines()[0][:120] if str(e) else type(e).__name__
        return (
            name,
            False,
            (
                f"the Polygon RPC {rpc_host(url)} does not answer ({why}): "
                "set rpc_url in [venues.polymarket] "
                "to a node or provider you can reach"
            ),
        )
    if got != chain_id:
        return name, False, f"the Polygon RPC {rpc_host(url)} serves chain {got}, not {chain_id}"
    return name, True, f"{rpc_host(url)} answers (chain {got})"
