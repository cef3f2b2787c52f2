"""Protocol V2 markets (Gamma `version` "v2": position ids, ExchangeV3 with EIP-712 domain version "3",
CLOB balances of asset type CONDITIONAL-V2, positions in the PositionManager) next to CTF markets, through
the connector and the simulator (which checks signatures with eth-account, not with our Rust)."""

from __future__ import annotations

from contextlib import AsyncExitStack
from decimal import Decimal

import orjson
import pytest

from tests.venues.polymarket.helpers import SHARE, approve, connected, fills_of, next_event, run
from trader.core import Side
from trader.errors import InsufficientFundsError, VenueError
from trader.sim.polymarket import PolymarketSimServer
from trader.venues.base import FillReport
from trader.venues.polymarket import MetadataMismatchError, endpoints
from trader.venues.polymarket.markets import asset_type, exchange_version, position_ids, trading_ids


def test_position_ids_and_gamma_version_choose_the_trading_ids() -> None:
    cid = "0x01" + "ab" * 16 + "00" * 14 + "00"
    yes, no = position_ids(cid)
    assert int(no) == int(yes) + 1
    assert int(yes) == int(cid, 16)
    assert (exchange_version(yes), asset_type(no)) == (3, "CONDITIONAL-V2")
    ctf = str(int("f1" * 32, 16))
    assert (exchange_version(ctf), asset_type(ctf)) == (2, "CONDITIONAL")
    row = {"version": "v2", "positionIds": f'["{yes}", "{no}"]', "clobTokenIds": f'["{ctf}", "1"]'}
    assert trading_ids(row) == [yes, no]
    assert trading_ids({**row, "version": "v1"}) == [ctf, "1"]
    assert trading_ids({"clobTokenIds": f'["{ctf}", "1"]'}) == [ctf, "1"]  # no version: a CTF market
    with pytest.raises(ValueError, match="ends in 00"):
        position_ids("0x01" + "ab" * 31)


def test_a_protocol_v2_market_trades_next_to_a_ctf_market() -> None:
    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = server.add_market("Will V2 settle on ExchangeV3?", protocol_v2=True)
        alice = await connected(server, stack, "alice-v2", market=m)  # Gamma is cross-checked at connect
        bob = await connected(server, stack, "bob-v2", market=m)
        assert alice.protocol_v2
        assert alice.exchange == endpoints.EXCHANGE_V3
        md = alice.market_metadata
        assert md is not None
        assert (md.version, md.yes_token, md.no_token) == ("v2", m.yes, m.no)
        yes, no = alice.symbols
        assert alice.token_id(yes) == m.yes == position_ids(m.condition_id)[0]
        server.fund(bob.address, tokens={m.yes: 20})
        ack = await alice.submit(approve(alice, yes, Side.BUY, "0.40", "10"), "a1", yes)
        assert server.orders[ack.venue_order_id].market is m  # recovered on ExchangeV3's domain "3"
        await bob.submit(approve(bob, yes, Side.SELL, "0.40", "6"), "b1", yes)
        fill = await next_event(alice, fills_of(alice))
        assert isinstance(fill, FillReport)
        assert (fill.client_id, fill.qty) == ("a1", 6 * SHARE)
        assert await alice.positions() == {yes: 6 * SHARE, no: 0}  # CONDITIONAL-V2 balances
        assert await bob.collateral() == Decimal(1000) + Decimal("2.4")
        on_chain = await alice.chain_balance()  # PositionManager balances and its ExchangeV3 approval
        assert (on_chain.tokens, on_chain.approved) == ({yes: 6 * SHARE, no: 0}, True)
        # a seller whose PositionManager no longer approves ExchangeV3 is refused before sending
        server.set_approval(bob.address, endpoints.EXCHANGE_V3, False, v2=True)
        bob._balances.clear()
        with pytest.raises(InsufficientFundsError, match="not approved"):
            await bob.submit(approve(bob, yes, Side.SELL, "0.40", "5"), "b2", yes)

    run(t)


def test_the_simulator_refuses_a_v2_order_signed_for_the_wrong_domain() -> None:
    """The same position id signed for domain "2" (the CTF exchange) fails eth-account's recovery
    against ExchangeV3; signed for "3" it is accepted."""

    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = server.add_market("Signed for the right exchange?", protocol_v2=True)
        conn = await connected(server, stack, "carol-v2", market=m)
        signer = conn._signer
        for version, ok in ((2, False), (3, True)):
            order = signer.order(
                m.yes, "0.30", "10", Side.BUY, tick_size="0.01", neg_risk=False, salt=version,
                timestamp_ms=server.now_ms(), version=version,
            )  # fmt: skip
            body = order.body(conn._api_key, "GTC", False).encode()
            if ok:
                result = await conn._private("POST", "/order", body=body, mutating=True)
                assert result["success"], orjson.dumps(result)
                assert result["orderID"] == order.hash
            else:
                with pytest.raises(VenueError, match="invalid signature"):
                    await conn._private("POST", "/order", body=body, mutating=True)

    run(t)


@pytest.mark.parametrize("protocol_v2", [False, True])
def test_every_signature_type_the_venue_accepts(protocol_v2: bool) -> None:
    """EOA, POLY_PROXY, POLY_GNOSIS_SAFE and POLY_1271 (a deposit wallet: the ERC-7739 wrapper, which the
    simulator checks with eth-account) on both kinds of market; an account held to the deposit wallet
    flow gets the venue's own answer for the others."""

    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = server.add_market(f"Signature types, V2 {protocol_v2}?", protocol_v2=protocol_v2)
        for sig_type in (0, 1, 2, 3):
            funder = None if sig_type == 0 else "0x" + f"{sig_type + 10:02x}" * 20
            conn = await connected(
                server, stack, f"sig-{sig_type}", market=m, signature_type=sig_type, funder=funder
            )
            yes, _ = conn.symbols
            ack = await conn.submit(approve(conn, yes, Side.BUY, "0.30", "10", post_only=True), "s1", yes)
            resting = server.orders[ack.venue_order_id]
            assert resting.maker.lower() == (funder or conn.address.lower())
            assert resting.signer.lower() == (funder if sig_type == 3 else conn.address.lower())
            await conn.cancel("s1")
        server.deposit_wallet_only = True
        eoa = await connected(server, stack, "sig-eoa-refused", market=m)
        with pytest.raises(VenueError, match="maker address not allowed, please use the deposit wallet flow"):
            await eoa.submit(approve(eoa, eoa.symbols[0], Side.BUY, "0.30", "10"), "e1", eoa.symbols[0])
        wallet = await connected(
            server, stack, "sig-1271-ok", market=m, signature_type=3, funder="0x" + "77" * 20
        )
        await wallet.submit(
            approve(wallet, wallet.symbols[0], Side.BUY, "0.30", "10"), "w1", wallet.symbols[0]
        )
        # the wrapper is checked, not only the inner signature: a changed domain separator is refused
        order = wallet._signer.order(
            m.yes, "0.30", "10", Side.BUY, tick_size="0.01", neg_risk=False, salt=99,
            timestamp_ms=server.now_ms(), version=3 if protocol_v2 else 2,
        )  # fmt: skip
        sig = order.signature
        bad = sig[:132] + ("0" if sig[132] != "0" else "1") + sig[133:]
        body = order.body(wallet._api_key, "GTC", False).replace(sig, bad).encode()
        with pytest.raises(VenueError, match="invalid signature"):
            await wallet._private("POST", "/order", body=body, mutating=True)

    run(t)


def test_gamma_that_calls_a_v2_market_v1_is_a_mismatch() -> None:
    """Gamma's `version` chooses the ids; one that disagrees with the CLOB refuses the connection."""

    async def t(server: PolymarketSimServer, stack: AsyncExitStack) -> None:
        m = server.add_market("Which version?", protocol_v2=True)
        server.set_gamma_override(m.condition_id, {"version": "v1", "clobTokenIds": f'["{m.yes}", "{m.no}"]'})
        with pytest.raises(MetadataMismatchError) as e:
            await connected(server, stack, "gamma-v1", market=m)
        assert e.value.fields == ("version",)

    run(t)
