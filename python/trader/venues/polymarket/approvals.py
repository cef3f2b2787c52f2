"""`trader approve --exchange=polymarket`: the on-chain approvals trading needs, shown, and sent with
`--confirm` from the wallet's own key (an EOA; proxy, Safe and deposit wallets are approved through
Polymarket's relayer, not by this command), and how to get pUSD from USDC.

The list is the official SDK's (polymarket-client 0.14.0, `_internal/actions/relayer/approvals.py`
`_required_trading_approvals`, without the perps deposit): pUSD `approve(spender, MAX)` to the CTF
Exchange V2, the Neg Risk CTF Exchange V2, ExchangeV3, the Protocol V2 Router and both collateral
adapters; Conditional Tokens `setApprovalForAll` to both V2 exchanges, both adapters, the auto-redeem
operator and the binary and neg-risk modules; PositionManager `setApprovalForAll` to the Router,
ExchangeV3 and the auto-redeem operator. An ERC-20 approval counts as given only when unlimited, as the
SDK reads it. Transactions are legacy EIP-155, signed by the core (`PolymarketSigner.sign_transaction`),
sent with `eth_sendRawTransaction` and followed to their receipts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

import orjson

from trader.clock import Clock
from trader.core import PolymarketSigner
from trader.errors import ConfigError, VenueError, VenueUnavailableError
from trader.venues._http import HttpClient
from trader.venues.polymarket import endpoints as e
from trader.venues.polymarket.chain import SEL_ALLOWANCE, SEL_APPROVED_FOR_ALL, rpc_host, word

if TYPE_CHECKING:
    from trader.config import VenueConfig

MAX_UINT256 = 2**256 - 1
SEL_APPROVE = "095ea7b3"  # approve(address,uint256)
SEL_SET_APPROVAL_FOR_ALL = "a22cb465"  # setApprovalForAll(address,bool)
SEL_WRAP = "62355638"  # wrap(address,address,uint256) on the CollateralOnramp
GAS_LIMIT = 100_000  # an approval costs about 46k gas
RECEIPT_WAIT_S = 120.0


@dataclass(frozen=True)
class Grant:
    """One approval: `contract` lets `spender` move the wallet's tokens."""

    contract: str
    spender: str
    what: str

    @property
    def erc20(self) -> bool:
        return self.contract == e.COLLATERAL

    def data(self) -> str:
        """The call data that gives it (unlimited pUSD, or every ERC-1155 token)."""
        arg = self.spender.lower().removeprefix("0x").rjust(64, "0")
        if self.erc20:
            return "0x" + SEL_APPROVE + arg + f"{MAX_UINT256:064x}"
        return "0x" + SEL_SET_APPROVAL_FOR_ALL + arg + f"{1:064x}"


def _grants() -> tuple[Grant, ...]:
    pusd = [
        (e.EXCHANGE, "CTF Exchange V2"),
        (e.NEG_RISK_EXCHANGE, "Neg Risk CTF Exchange V2"),
        (e.EXCHANGE_V3, "ExchangeV3 (Protocol V2 markets)"),
        (e.PROTOCOL_V2_ROUTER, "Protocol V2 Router (split, merge, redeem)"),
        (e.COLLATERAL_ADAPTER, "collateral adapter"),
        (e.NEG_RISK_COLLATERAL_ADAPTER, "neg risk collateral adapter"),
    ]
    ctf = [
        (e.EXCHANGE, "CTF Exchange V2"),
        (e.NEG_RISK_EXCHANGE, "Neg Risk CTF Exchange V2"),
        (e.COLLATERAL_ADAPTER, "collateral adapter"),
        (e.NEG_RISK_COLLATERAL_ADAPTER, "neg risk collateral adapter"),
        (e.AUTO_REDEEM_OPERATOR, "auto-redeem operator"),
        (e.BINARY_MODULE, "binary module"),
        (e.NEG_RISK_MODULE, "neg risk module"),
    ]
    positions = [
        (e.PROTOCOL_V2_ROUTER, "Protocol V2 Router"),
        (e.EXCHANGE_V3, "ExchangeV3"),
        (e.AUTO_REDEEM_OPERATOR, "auto-redeem operator"),
    ]
    return (
        *(Grant(e.COLLATERAL, s, f"pUSD -> {n}") for s, n in pusd),
        *(Grant(e.CTF, s, f"Conditional Tokens -> {n}") for s, n in ctf),
        *(Grant(e.POSITION_MANAGER, s, f"PositionManager -> {n}") for s, n in positions),
    )


GRANTS = _grants()

ONRAMP_HOWTO = (
    f"pUSD from USDC: on Polygon, approve USDC.e ({e.USDC_E}) to the CollateralOnramp "
    f"({e.COLLATERAL_ONRAMP}), then call wrap(USDC.e, your wallet, amount) on it: 1 USDC.e -> 1 pUSD "
    "(6 decimals). Native USDC is swapped to USDC.e first. "
    "`trader approve --wrap=AMOUNT --confirm` sends both."
)


class Rpc:
    """A JSON-RPC client over the connector's HTTP client (one call or a batch)."""

    def __init__(self, http: HttpClient, venue: str) -> None:
        self.http, self.venue = http, venue

    async def batch(self, calls: list[tuple[str, list[Any]]]) -> list[Any]:
        body = orjson.dumps(
            [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        )
        resp = await self.http.request(
            "POST", "", body=body, headers={"Content-Type": "application/json"}, mutating=False
        )
        replies = orjson.loads(resp.body)
        by_id = {r.get("id"): r for r in replies} if isinstance(replies, list) else {}
        out = []
        for i, (method, _) in enumerate(calls):
            r = by_id.get(i) or {}
            if "result" not in r:
                msg = str((r.get("error") or {}).get("message", "no result"))[:160]
                raise VenueError(f"{method}: {msg}", venue=self.venue)
            out.append(r["result"])
        return out

    async def call(self, method: str, params: list[Any]) -> Any:
        return (await self.batch([(method, params)]))[0]


async def missing(rpc: Rpc, owner: str) -> list[Grant]:
    """The approvals the wallet `owner` has not given (an ERC-20 one counts only when unlimited)."""
    o = owner.lower().removeprefix("0x").rjust(64, "0")
    calls: list[tuple[str, list[Any]]] = []
    for g in GRANTS:
        s = g.spender.lower().removeprefix("0x").rjust(64, "0")
        data = "0x" + (SEL_ALLOWANCE if g.erc20 else SEL_APPROVED_FOR_ALL) + o + s
        calls.append(("eth_call", [{"to": g.contract, "data": data}, "latest"]))
    words = [word(str(r)) for r in await rpc.batch(calls)]
    return [g for g, w in zip(GRANTS, words, strict=True) if w != (MAX_UINT256 if g.erc20 else 1)]


async def send(
    rpc: Rpc, signer: PolymarketSigner, txs: list[tuple[str, str]], clock: Clock, out: Callable[[str], None]
) -> bool:
    """Sign and send (contract, data) transactions in order, then wait for every receipt: all succeeded."""
    nonce_hex, price_hex = await rpc.batch(
        [("eth_getTransactionCount", [signer.address, "pending"]), ("eth_gasPrice", [])]
    )
    nonce, price = int(str(nonce_hex), 16), int(str(price_hex), 16)
    sent: list[str] = []
    for i, (to, data) in enumerate(txs):
        raw, tx_hash = signer.sign_transaction(
            nonce=nonce + i, gas_price=price, gas=GAS_LIMIT, to=to, data=data
        )
        answer = await rpc.call("eth_sendRawTransaction", [raw])
        if answer and str(answer).lower() != tx_hash.lower():
            raise VenueError(f"the node named transaction {answer}, signed as {tx_hash}", venue=rpc.venue)
        sent.append(tx_hash)
        out(f"  sent {tx_hash}")
    ok = True
    for tx in sent:
        receipt = await _receipt(rpc, tx, clock)
        status = None if receipt is None else str(receipt.get("status", ""))
        ok = ok and status == "0x1"
        out(f"  {tx}: {'confirmed' if status == '0x1' else 'FAILED' if status else 'no receipt yet'}")
    return ok


async def _receipt(rpc: Rpc, tx: str, clock: Clock) -> dict[str, Any] | None:
    deadline = clock.monotonic_ns() + int(RECEIPT_WAIT_S * 1e9)
    while True:
        r = await rpc.call("eth_getTransactionReceipt", [tx])
        if isinstance(r, dict) or clock.monotonic_ns() > deadline:
            return r if isinstance(r, dict) else None
        await clock.sleep(2.0)


def _rpc_url(cfg: VenueConfig) -> str:
    """`rpc_url`, else the simulator's (`environment = "sim"`), else the public default."""
    from trader.venues.polymarket import ENDPOINTS, Endpoints

    o, own = cfg.options, cfg.url("rpc_url")
    if own is not None:
        return own
    url = Endpoints.loopback(str(o["url"])).rpc if cfg.environment == "sim" and "url" in o else None
    return url or str(ENDPOINTS["live"].rpc)


def _wrap_txs(owner: str, amount: str) -> list[tuple[str, str]]:
    """USDC.e `approve(onramp, amount)` then CollateralOnramp `wrap(USDC.e, owner, amount)`."""
    try:
        units = int(Decimal(amount) * 1_000_000)
    except InvalidOperation:
        raise ConfigError(f"--wrap={amount!r} is not an amount of USDC") from None
    if units <= 0:
        raise ConfigError("--wrap needs a positive amount of USDC")

    def arg(a: str) -> str:
        return a.lower().removeprefix("0x").rjust(64, "0")

    return [
        (e.USDC_E, "0x" + SEL_APPROVE + arg(e.COLLATERAL_ONRAMP) + f"{units:064x}"),
        (e.COLLATERAL_ONRAMP, "0x" + SEL_WRAP + arg(e.USDC_E) + arg(owner) + f"{units:064x}"),
    ]


def _signer(cfg: VenueConfig) -> PolymarketSigner:
    o = cfg.options
    if int(o.get("signature_type", 0)) != 0:
        raise ConfigError(
            f"[venues.{cfg.name}] signature_type is not 0: a proxy, Safe or deposit wallet is a contract, "
            "approved through Polymarket (its relayer), not by this command"
        )
    if "private_key" not in cfg.secrets:
        raise ConfigError(f'[venues.{cfg.name}] needs private_key = "keystore:PATH" (or "env:NAME")')
    return PolymarketSigner(cfg.secrets["private_key"].resolve(), chain_id=int(o.get("chain_id", 137)))


async def approve(
    cfg: VenueConfig, *, clock: Clock, confirm: bool, out: Callable[[str], None], wrap: str | None = None
) -> bool:
    """`trader approve`: show the approvals trading needs and which are missing; with `confirm`, send the
    missing ones (and, with `wrap`, wrap that many USDC.e into pUSD). True when nothing is missing."""
    signer, url = _signer(cfg), _rpc_url(cfg)
    txs = _wrap_txs(signer.address, wrap) if wrap is not None else []
    http = HttpClient(cfg.name, url, clock=clock, timeout_s=20.0)
    rpc = Rpc(http, cfg.name)
    try:
        try:
            todo = await missing(rpc, signer.address)
        except (VenueError, OSError) as err:
            raise VenueUnavailableError(
                f"the Polygon RPC {rpc_host(url)} does not answer ({err}): "
                f"set rpc_url in [venues.{cfg.name}]",
                venue=cfg.name,
            ) from None
        given = len(GRANTS) - len(todo)
        out(f"wallet {signer.address} on {rpc_host(url)}: {given} of {len(GRANTS)} approvals given")
        for g in GRANTS:
            out(f"  {'MISSING' if g in todo else 'ok     '} {g.what:<48} {g.contract} -> {g.spender}")
        out(ONRAMP_HOWTO)
        txs = [(g.contract, g.data()) for g in todo] + txs
        if not txs:
            return True
        if not confirm:
            out(f"{len(txs)} transaction(s) to send: rerun with --confirm to sign and send them")
            return False
        out(f"sending {len(txs)} transaction(s) from {signer.address}")
        return await send(rpc, signer, txs, clock, out) and not await missing(rpc, signer.address)
    finally:
        await http.close()
