"""The OKX account as the connector sees it: the account mode checked at connect (`account/config`), and
the positions and balances the private `positions` and `account` channels keep current between REST reads.

REST stays the reconciliation source: `OkxConnector.positions()` and `balances()` read it (and reseed what
the streams keep); the streams keep `OkxConnector.stream_positions()` / `stream_balances()` current without
a request. The engine has no position or balance event, so these stay inside the connector."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from trader.venues.okx import endpoints as ep
from trader.venues.okx import parse
from trader.venues.okx.errors import AccountModeError

if TYPE_CHECKING:
    from trader.venues.okx.connector import OkxConnector

log = logging.getLogger("trader.venues.okx")

POSITION_MODES = ("", "net")  # position_mode option: "" refuses a long/short account, "net" switches it


class AccountView:
    """What the private `positions` and `account` channels last said (seeded and reseeded by REST)."""

    def __init__(self) -> None:
        self.positions: dict[str, int] = {}  # our instrument's net position, base units
        self.balances: dict[str, Decimal] = {}  # cash balance per currency
        self.acct_lv = ""
        self.pos_mode = ""
        self.pushes = 0  # positions and account pushes applied

    def on_positions(self, c: OkxConnector, msg: dict[str, Any]) -> None:
        if c.market != "swap":
            return  # spot holds balances, not positions
        units = parse.position_push(msg, c.inst_id, c.spec, c.ct)
        if units is not None:
            self.positions[c.symbol] = units
            self.pushes += 1

    def on_account(self, c: OkxConnector, msg: dict[str, Any]) -> None:
        changed = parse.account_push(msg)
        if not changed:
            return
        self.balances.update(changed)
        self.pushes += 1
        if c.market == "spot" and c._base() in changed:
            self.positions[c.symbol] = spot_lots(changed[c._base()], c)

    def held(self, c: OkxConnector) -> dict[str, int]:
        if c.symbol in self.positions:
            return {c.symbol: self.positions[c.symbol]}
        return {}


def spot_lots(held: Decimal, c: OkxConnector) -> int:
    """A spot base balance in lot units, rounded down to a lot."""
    return int(held / Decimal(c.spec.lot_size))


async def check_mode(c: OkxConnector, position_mode: str) -> tuple[str, str]:
    """`GET /api/v5/account/config` at connect: the swap market needs an account level that trades
    derivatives (acctLv 2, 3 or 4) in net position mode. A long/short account is switched to net mode
    (`set-position-mode`) only when `position_mode = "net"` is configured; otherwise, as for spot mode,
    one `AccountModeError` says what to change. Spot trades in every account level."""
    acct_lv, pos_mode = parse.account_config(await c._call("GET", ep.ACCOUNT_CONFIG, [], group="account"))
    c.account.acct_lv, c.account.pos_mode = acct_lv, pos_mode
    if c.market != "swap":
        return acct_lv, pos_mode
    if acct_lv == parse.SPOT_ONLY_LEVEL:
        raise AccountModeError(
            f"OKX account mode acctLv={acct_lv} (spot mode) cannot trade swaps: switch the account to "
            "spot-and-futures (acctLv 2) or a margin mode",
            acct_lv=acct_lv,
            pos_mode=pos_mode,
        )
    if pos_mode != parse.SUPPORTED_POS_MODE:
        if position_mode != "net":
            raise AccountModeError(
                f"OKX account posMode={pos_mode}: the connector trades one net position per instrument; "
                'switch it to net_mode, or set position_mode = "net" to let the connector switch it',
                acct_lv=acct_lv,
                pos_mode=pos_mode,
            )
        data = await c._call("POST", ep.SET_POSITION_MODE, [("posMode", "net_mode")], group="account")
        pos_mode = str(data[0].get("posMode", "net_mode")) if data else "net_mode"
        c.account.pos_mode = pos_mode
        log.warning("%s: account switched to net position mode", c.venue)
    return acct_lv, pos_mode
