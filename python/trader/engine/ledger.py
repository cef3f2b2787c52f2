"""The order ledger: every order the engine knows, with the journal written before anything changes.

Client order ids, and whose an id is, are decided here and nowhere else.

    <instance><tag><n>      e.g. k3x9qammm1234 = instance "k3x9qa", tag "mm", order 1234

- `instance`: 6 characters, a lowercase letter then 5 of [0-9a-z], drawn at random once per journal
  (`Journal.instance_id`, kept in its meta table). Two journals, on one host or two, draw different ones
  (36^5 * 26 = 1.6e9 values), so two sessions on one account never send the same id.
- `tag`: 1-3 lowercase letters from the strategy name (`mm`, `pai` for pairs, `bin` for binary_mm); it only
  tells a reader which strategy sent the order (uniqueness comes from the instance and the counter).
- `n`: the journal's persisted counter, in decimal, 1 to 999,999,999, no leading zero.

Only letters and digits, at most 18 characters: it fits every venue's rule at once (each venue profile's
`client_id`), the tightest being Kraken's free-text `cl_ord_id` (18) and OKX's `clOrdId` (letters and digits
only). Fixed width for the instance and no digit in the tag make the id parse back without a separator.

Whose an id is (`Owner`): OURS when it carries this journal's instance id; SESSION when it has the format
with another instance id (another `trader` session on the same account: its orders and fills are not ours
to claim, cancel or count); EXTERNAL otherwise (placed by hand, by another tool, by the venue itself as in
a liquidation, or an id written before this scheme). Polymarket has no client id on the wire: the
connector maps ours to the signed order's hash, so an order it did not sign comes back as that hash
(EXTERNAL), and another session on the same wallet cannot be told from trading by hand there.
"""

from __future__ import annotations

import enum
import functools
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from trader.core import Side
from trader.engine import oms
from trader.engine.observer import Observers
from trader.errors import ConfigError, UnknownOrderError

if TYPE_CHECKING:
    from trader.engine.journal import Journal
    from trader.venues.base import OrderReport
    from trader.venues.profile import ClientIdRule

INSTANCE_LEN = 6
TAG_MAX = 3
MAX_COUNTER = 999_999_999
CLIENT_ID_MAX_LEN = INSTANCE_LEN + TAG_MAX + len(str(MAX_COUNTER))  # 18
_ALNUM36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_INSTANCE = re.compile(r"[a-z][0-9a-z]{5}")
_CLIENT_ID = re.compile(r"([a-z][0-9a-z]{5})([a-z]{1,3})([1-9][0-9]{0,8})")


class Owner(enum.Enum):
    OURS = "ours"  # carries this journal's instance id
    SESSION = "session"  # another trader session's (another journal, same account)
    EXTERNAL = "external"  # not a trader id: manual, another tool, the venue, or an older format


@dataclass(frozen=True)
class ClientId:
    instance: str
    tag: str
    n: int


def new_instance_id() -> str:
    """A fresh random instance id (a letter, then five of [0-9a-z])."""
    return secrets.choice(_ALNUM36[10:]) + "".join(secrets.choice(_ALNUM36) for _ in range(INSTANCE_LEN - 1))


@functools.cache  # a few strategy names per process; it runs for every order
def strategy_tag(strategy: str) -> str:
    """The strategy's tag: its first letters (lowercase, at most 3); `ConfigError` for a bad name
    (letters, digits, `_`, `-` and `@`, as in `mm-btc` or `mm@binance`)."""
    plain = strategy.replace("_", "").replace("-", "").replace("@", "")
    if not plain or not plain.isalnum() or not strategy.isascii():
        raise ConfigError(f"strategy name {strategy!r} must be alphanumeric (letters, digits and _ - @)")
    letters = "".join(c for c in strategy.lower() if "a" <= c <= "z")
    return (letters or "s")[:TAG_MAX]


def format_client_id(instance: str, strategy: str, n: int) -> str:
    if not _INSTANCE.fullmatch(instance):
        raise ConfigError(f"bad journal instance id {instance!r}")
    if not 1 <= n <= MAX_COUNTER:
        raise ConfigError(f"client order number {n} is out of range: start a new journal")
    return f"{instance}{strategy_tag(strategy)}{n}"


def parse_client_id(client_id: str) -> ClientId | None:
    """The parts of one of our ids, or None when `client_id` is not in the format."""
    m = _CLIENT_ID.fullmatch(client_id)
    if m is None:
        return None
    return ClientId(m[1], m[2], int(m[3]))


def owner_of(client_id: str, instance: str) -> Owner:
    parsed = parse_client_id(client_id)
    if parsed is None:
        return Owner.EXTERNAL
    return Owner.OURS if parsed.instance == instance else Owner.SESSION


@functools.cache  # one registry lookup per venue, not one per order
def _rule(venue: str) -> ClientIdRule:
    from trader.venues.registry import client_id_rule

    return client_id_rule(venue)


def check_fits(client_id: str, venue: str) -> None:
    """`ConfigError` unless `client_id` obeys `venue`'s rule (its profile's `client_id`; a venue the
    registry does not know: the strictest rule)."""
    rule = _rule(venue)
    if rule.pattern is not None and not rule.pattern.fullmatch(client_id):
        raise ConfigError(
            f"client order id {client_id!r} does not fit {venue}'s {rule.field} ({rule.source})"
        )


@dataclass
class OtherSessions:
    """What other trader sessions did on the account, as reconciliation found it: never claimed as
    ours, but their fills moved the account's position, so the position check adds them."""

    net: dict[str, int] = field(default_factory=dict)  # instrument -> units bought - units sold
    fills: int = 0
    orders: int = 0  # their open orders

    def add_fill(self, instrument: str, side: Side, qty: int) -> None:
        self.net[instrument] = self.net.get(instrument, 0) + (qty if side == Side.BUY else -qty)
        self.fills += 1


class OrderLedger:
    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self.observers = Observers()  # told of every state change, after the journal write (monitoring)
        self.orders: dict[str, oms.Order] = journal.replay()
        self.instance = journal.instance_id

    def reserved(self, client_id: str) -> bool:
        """One of our ids whose number lies in a block the journal reserved: we may have sent it."""
        parsed = parse_client_id(client_id)
        return (
            parsed is not None
            and parsed.instance == self.instance
            and self._journal.client_id_reserved(parsed.n)
        )

    def maybe_sent(self, strategies: Iterable[str]) -> list[str]:
        """Ids of ours a process that died may have sent without journaling them (in reserved blocks,
        above every journaled number), for each of `strategies`: to be asked of the venue at start-up."""
        numbers = [p.n for cid in self.orders if (p := parse_client_id(cid)) and p.instance == self.instance]
        tags = sorted({strategy_tag(s) for s in strategies})
        return [
            f"{self.instance}{tag}{n}"
            for n in self._journal.unclean_numbers(max(numbers, default=0))
            for tag in tags
        ]

    def owner(self, client_id: str) -> Owner:
        """Whose an order or fill the venue reports is: ours, another session's, or nobody's we know."""
        return owner_of(client_id, self.instance)

    def create(
        self,
        strategy: str,
        venue: str,
        instrument: str,
        side: Side,
        price: int,
        qty: int,
        ts_ns: int,
        *,
        submitted: bool = False,
        defer: bool = False,
    ) -> oms.Order:
        """A new order with a never-reused client id; its intent is durable before this returns.
        `submitted`: it is about to be sent (recorded in the same write). `defer`: the intent is written
        at the journal's next `flush`, after the order went out; its id's block is durable already
        (`trader.engine.journal`)."""
        strategy_tag(strategy)  # a bad name fails before a number is used (cached: no cost after)
        order = self._build(strategy, venue, instrument, side, price, qty, self._journal.next_client_number())
        self._journal.record_intent(order, ts_ns, submitted=submitted, defer=defer)
        if submitted:
            order.apply(oms.Submitted())
        self.orders[order.client_id] = order
        self.observers.on_order(order, None, ts_ns)
        return order

    def rehearse(self, strategy: str, venue: str, instrument: str, side: Side, price: int, qty: int) -> str:
        """`create`'s work without its effects (the engine's rehearsal, `trader.engine.rehearsal`): the
        order built with the next client number (not taken) and its intent encoded, then dropped; nothing
        recorded, journaled or observed. The encoded intent."""
        strategy_tag(strategy)
        order = self._build(strategy, venue, instrument, side, price, qty, self._journal.peek_client_number())
        order.apply(oms.Submitted())
        return self._journal.encode_intent(order)

    def _build(
        self, strategy: str, venue: str, instrument: str, side: Side, price: int, qty: int, number: int
    ) -> oms.Order:
        client_id = format_client_id(self.instance, strategy, number)
        check_fits(client_id, venue)
        return oms.Order(client_id, venue, instrument, side, price, qty, strategy=strategy)

    def adopt(self, venue: str, report: OrderReport, strategy: str, ts_ns: int) -> oms.Order:
        """An order of ours the venue has and the journal lacks (its intent was not yet written when the
        process died): recorded now from the venue's report, as sent and accepted; its fills follow."""
        order = oms.Order(
            report.client_id,
            venue,
            report.instrument,
            report.side,
            report.price,
            report.qty,
            strategy=strategy,
        )
        self._journal.record_intent(order, ts_ns, submitted=True)
        order.apply(oms.Submitted())
        self.orders[order.client_id] = order
        self.apply(order.client_id, oms.Accepted(report.venue_order_id), ts_ns)
        return order

    def apply(self, client_id: str, event: oms.OrderEvent, ts_ns: int) -> bool:
        """Journal the event, then apply it. Late or duplicate events are journaled and absorbed."""
        order = self.orders.get(client_id)
        if order is None:
            raise UnknownOrderError(f"no order with client id {client_id}")
        self._journal.record_event(client_id, event, ts_ns)
        changed = order.apply(event)
        if changed:
            self.observers.on_order(order, event, ts_ns)
        return changed

    def live(self) -> list[oms.Order]:
        """Orders that still count: in flight, resting, unknown or lost."""
        return [o for o in self.orders.values() if o.is_live]

    def working(self, venue: str, instrument: str, side: Side) -> int:
        """What our live orders on one side of an instrument still offer (qty units): a cancel not yet
        confirmed included, since the venue holds them until it is."""
        return sum(
            o.qty - o.filled
            for o in self.live()
            if o.venue == venue and o.instrument == instrument and o.side == side
        )

    def unresolved(self) -> list[oms.Order]:
        """Orders whose outcome must be asked of the venue (never resent)."""
        return [
            o for o in self.orders.values() if o.status in (oms.OrderStatus.UNKNOWN, oms.OrderStatus.LOST)
        ]
