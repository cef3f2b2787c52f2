"""Positions and account values of the IB Gateway simulator: the requests that read them and the
updates it pushes after a fill. Margin is a flat 25% of gross position value."""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from trader.sim.ibkr import protocol
from trader.sim.ibkr.protocol import Conn, to_int
from trader.sim.ibkr.state import CENT, Account, money

if TYPE_CHECKING:
    from trader.sim.ibkr.server import IbkrSimServer


def mark_price(sim: IbkrSimServer, con_id: int) -> Decimal:
    book = sim.books[con_id]
    bid, _, ask, _ = book.top
    if bid and ask:
        return Decimal(bid + ask) * CENT / 2
    return Decimal(book.last or book.listing.mid_cents) * CENT


def account_values(sim: IbkrSimServer, a: Account) -> dict[str, Decimal]:
    gross = sum((abs(p.qty * mark_price(sim, cid)) for cid, p in a.positions.items()), Decimal(0))
    value = sum((p.qty * mark_price(sim, cid) for cid, p in a.positions.items()), Decimal(0))
    unrealized = sum((p.qty * mark_price(sim, cid) - p.cost for cid, p in a.positions.items()), Decimal(0))
    nlv = a.cash + value
    init = gross / 4
    return {
        "NetLiquidation": nlv,
        "TotalCashValue": a.cash,
        "SettledCash": a.cash,
        "BuyingPower": (nlv - init) * 4,
        "AvailableFunds": nlv - init,
        "ExcessLiquidity": nlv - init,
        "EquityWithLoanValue": nlv,
        "GrossPositionValue": gross,
        "InitMarginReq": init,
        "MaintMarginReq": init,
        "RealizedPnL": a.realized,
        "UnrealizedPnL": unrealized,
    }


def position_fields(sim: IbkrSimServer, a: Account, con_id: int) -> list[object]:
    p, x = a.positions[con_id], sim.listings[con_id]
    return [61, 3, a.name, *protocol.contract11(x, x.primary), p.qty, f"{p.avg_cost:f}"]


def portfolio_fields(sim: IbkrSimServer, a: Account, con_id: int) -> list[object]:
    p, x = a.positions[con_id], sim.listings[con_id]
    mark = mark_price(sim, con_id)
    return [
        7, 8, *protocol.contract11(x, x.primary), p.qty, f"{mark:f}", money(p.qty * mark), f"{p.avg_cost:f}",
        money(p.qty * mark - p.cost), money(a.realized), a.name,
    ]  # fmt: skip


def req_positions(sim: IbkrSimServer, c: Conn, f: list[str]) -> None:
    c.positions_sub = True
    for a in sim.accounts.values():
        for con_id in a.positions:
            c.send(*position_fields(sim, a, con_id))
    c.send(62, 1)


def cancel_positions(sim: IbkrSimServer, c: Conn, f: list[str]) -> None:
    c.positions_sub = False


def req_positions_multi(sim: IbkrSimServer, c: Conn, f: list[str]) -> None:
    req_id, acct, model = to_int(f[2]), f[3], f[4]
    for a in sim.accounts.values():
        if acct in ("", "All", a.name):
            for con_id, p in a.positions.items():
                x = sim.listings[con_id]
                c.send(
                    71,
                    1,
                    req_id,
                    a.name,
                    *protocol.contract11(x, x.primary),
                    p.qty,
                    f"{p.avg_cost:f}",
                    model,
                )
    c.send(72, 1, req_id)


def req_account_updates(sim: IbkrSimServer, c: Conn, f: list[str]) -> None:
    subscribe, acct = f[2] == "1", f[3] or next(iter(sim.accounts))
    if not subscribe:
        c.account_sub = ""
        return
    a = sim.accounts.get(acct)
    if a is None:
        c.error(-1, 321, f"Error validating request.-'bN' : cause - Invalid account code {acct}")
        return
    c.account_sub = acct
    send_account(sim, c, a)
    c.send(54, 1, acct)


def send_account(sim: IbkrSimServer, c: Conn, a: Account, con_id: int | None = None) -> None:
    for tag, v in account_values(sim, a).items():
        c.send(6, 2, tag, money(v), "USD", a.name)
    for cid in a.positions if con_id is None else [con_id]:
        c.send(*portfolio_fields(sim, a, cid))
    c.send(8, 1, sim._tws_time()[9:14])


def req_account_updates_multi(sim: IbkrSimServer, c: Conn, f: list[str]) -> None:
    req_id, acct, model = to_int(f[2]), f[3], f[4]
    for a in sim.accounts.values():
        if acct in ("", "All", a.name):
            c.multi[req_id] = a.name
            for tag, v in account_values(sim, a).items():
                c.send(73, 1, req_id, a.name, model, tag, money(v), "USD")
    c.send(74, 1, req_id)


def req_account_summary(sim: IbkrSimServer, c: Conn, f: list[str]) -> None:
    req_id, tags = to_int(f[2]), [t for t in f[4].split(",") if t]
    c.summary[req_id] = tags
    for a in sim.accounts.values():
        c.send(63, 1, req_id, a.name, "AccountType", "INDIVIDUAL", "")
        values = account_values(sim, a)
        for tag in tags:
            if tag in values:
                c.send(63, 1, req_id, a.name, tag, money(values[tag]), "USD")
    c.send(64, 1, req_id)


def account_changed(sim: IbkrSimServer, a: Account, con_id: int) -> None:
    for c in sim._ready():
        if c.positions_sub:
            c.send(*position_fields(sim, a, con_id))
        if c.account_sub == a.name:
            send_account(sim, c, a, con_id)
        values = account_values(sim, a)
        for req_id, name in c.multi.items():
            if name == a.name:
                for tag, v in values.items():
                    c.send(73, 1, req_id, a.name, "", tag, money(v), "USD")
