"""Typed surface of the compiled core `trader._core` (import it through `trader.core`).

Prices and quantities are `int` counts of an instrument's `price_unit` / `qty_unit`; notional values
come back as `decimal.Decimal`; every time-dependent call takes `now_ns`. Nothing here reads a clock.
"""

from collections.abc import Sequence
from decimal import Decimal
from typing import ClassVar, Self, final

__version__: str

__all__ = [
    "SENSITIVE_HEADERS",
    "AlpacaSigner",
    "Approval",
    "BinanceSigner",
    "Book",
    "BookNotReadyError",
    "BookState",
    "BybitSigner",
    "CoinbaseSigner",
    "CredentialError",
    "Denial",
    "DenyReason",
    "InstrumentSpec",
    "InvalidInputError",
    "Keystore",
    "KillSwitchLatchedError",
    "KrakenSigner",
    "OkxSigner",
    "OrderType",
    "ParseError",
    "PolymarketOrder",
    "PolymarketSigner",
    "RateLimiter",
    "RiskGate",
    "SequenceGapError",
    "Side",
    "SignedRequest",
    "TimeInForce",
    "TraderError",
    "TradingState",
    "UnknownInstrumentError",
    "UnknownNameError",
    "UnknownOrderError",
    "Window",
    "__version__",
    "kraken_checksum",
    "okx_checksum",
]

# ---- errors -----------------------------------------------------------------------------------

class TraderError(Exception):
    """Base class of every error raised by trader."""

class InvalidInputError(TraderError, ValueError):
    """An argument is malformed or out of its domain.

    For example a decimal that is not a multiple of its unit, or a bad spec or limit.
    """

class ParseError(TraderError, ValueError):
    """A venue message is malformed; nothing was applied."""

class SequenceGapError(TraderError):
    """An update does not follow the previous one; the book is now invalid and needs a resync.

    Attributes: expected, got.
    """

    expected: int
    got: int

class BookNotReadyError(TraderError):
    """The book is resyncing or invalid and cannot take incremental updates."""

class UnknownInstrumentError(TraderError, LookupError):
    """No such instrument is registered."""

class UnknownOrderError(TraderError, LookupError):
    """No order with this key is tracked."""

class UnknownNameError(TraderError, LookupError):
    """No quota, venue or strategy with this name or id is registered."""

class CredentialError(TraderError, ValueError):
    """A key, secret or passphrase is missing or malformed. The message never carries secret material."""

class KillSwitchLatchedError(TraderError):
    """A latched kill switch cannot be cleared by a state change; use RiskGate.reset_kill."""

# ---- values -----------------------------------------------------------------------------------

@final
class Side:
    """Order side."""

    BUY: ClassVar[Side]
    SELL: ClassVar[Side]
    def __int__(self) -> int: ...

@final
class InstrumentSpec:
    """One instrument's trading rules.

    `tick_size` and `lot_size` are the venue's steps as decimal strings. Prices and quantities are
    counted in `price_unit` / `qty_unit` (by default the tick and the lot). Values that are not exact
    multiples of their unit raise `InvalidInputError`.
    """

    def __new__(
        cls,
        tick_size: str,
        lot_size: str,
        *,
        min_qty: str | None = None,
        max_qty: str | None = None,
        min_notional: str | None = None,
        price_unit: str | None = None,
        qty_unit: str | None = None,
    ) -> Self: ...
    @property
    def tick_size(self) -> str: ...
    @property
    def lot_size(self) -> str: ...
    @property
    def price_unit(self) -> str: ...
    @property
    def qty_unit(self) -> str: ...
    @property
    def tick(self) -> int:
        """Tick size counted in price units."""
    @property
    def lot(self) -> int:
        """Lot size counted in qty units."""
    @property
    def min_qty(self) -> int: ...
    @property
    def max_qty(self) -> int | None: ...
    @property
    def min_notional(self) -> str: ...
    def price_to_units(self, price: str) -> int:
        """Exact conversion of a venue price string; raises `InvalidInputError` if not a whole unit."""
    def qty_to_units(self, qty: str) -> int:
        """Exact conversion of a venue quantity string; raises `InvalidInputError` if not a whole unit."""
    def format_price(self, units: int) -> str:
        """Price units as the venue's decimal string, at the unit's precision."""
    def format_qty(self, units: int) -> str:
        """Qty units as the venue's decimal string, at the unit's precision."""
    def notional(self, price: int, qty: int) -> Decimal:
        """Exact notional of `qty` at `price` in quote currency."""
    def __eq__(self, other: object, /) -> bool: ...
    def __hash__(self) -> int: ...

# ---- order book -------------------------------------------------------------------------------

@final
class BookState:
    """Sequence state of a book: VALID after a snapshot, INVALID after a gap, RESYNCING meanwhile."""

    VALID: ClassVar[BookState]
    INVALID: ClassVar[BookState]
    RESYNCING: ClassVar[BookState]
    def __int__(self) -> int: ...

@final
class Book:
    """L2 order book of one instrument; prices and quantities in the spec's integer units.

    A new book is RESYNCING until a snapshot arrives. Venue parsers apply a whole message in one call
    and change nothing when they raise.
    """

    def __new__(cls, spec: InstrumentSpec) -> Self: ...
    @property
    def spec(self) -> InstrumentSpec: ...
    @property
    def state(self) -> BookState: ...
    @property
    def last_update_id(self) -> int: ...
    def apply_snapshot(
        self, bids: Sequence[tuple[int, int]], asks: Sequence[tuple[int, int]], last_update_id: int
    ) -> None:
        """Replace the book and mark it VALID at `last_update_id`."""
    def set_level(self, side: Side, price: int, qty: int) -> None:
        """Set one level's quantity (0 removes it), with no sequence rule."""
    def apply_update(self, side: Side, price: int, qty: int, update_id: int) -> bool:
        """Apply one level carrying its own id (ids must be consecutive). False if stale.

        Raises `SequenceGapError` (book becomes INVALID) or `BookNotReadyError`.
        """
    def apply_binance_depth(self, raw: bytes) -> bool:
        """Parse a Binance diff-depth event (spot or USD-M futures, raw or combined stream) and apply it
        under Binance's sync rule. True if applied, False if stale. Raises `ParseError` (nothing
        changed), `SequenceGapError` (book now INVALID) or `BookNotReadyError`.
        """
    def apply_binance_snapshot(self, raw: bytes) -> int:
        """Replace the book from a Binance REST depth snapshot; returns its lastUpdateId."""
    def apply_polymarket_book(self, raw: bytes, asset_id: str) -> int | None:
        """Replace the book with token `asset_id`'s levels from a Polymarket `book` message (one
        market-channel event, the subscription's array of them, or a REST `GET /book` answer).

        Returns the book's timestamp (ms; it becomes `last_update_id`, the book VALID), or None when the
        message holds no book of that token (nothing changed). Raises `ParseError` (nothing changed)
        for malformed JSON, a level off the price or quantity unit, or a negative size.
        """
    def apply_polymarket_changes(
        self, raw: bytes, asset_id: str
    ) -> tuple[int, tuple[int | None, int | None] | None]:
        """Set token `asset_id`'s levels from a Polymarket `price_change` message (absolute sizes, 0
        removes; other tokens' changes are skipped; no sequence rule).

        Returns (changes applied, the venue's (best bid, best ask) in price units as its last change
        for the token states them, None for an empty side; or None when it states no best prices).
        Raises `ParseError` (nothing changed) for malformed JSON, an unknown side or an off-unit level.
        """
    def apply_coinbase_level2(self, raw: bytes, product_id: str) -> tuple[int, bool, int] | None:
        """Apply product `product_id`'s events of a Coinbase `l2_data` message (a snapshot replaces the
        book, VALID at the message's `sequence_num`; updates set absolute sizes, 0 removes).

        Returns (sequence_num, was a snapshot, levels applied), or None when the message is not `l2_data`
        or holds nothing of the product (nothing changed). Raises `ParseError` (nothing changed) for
        malformed JSON, an unknown side or an off-unit level; `BookNotReadyError` / `SequenceGapError`
        for an update before the first snapshot (nothing changed). Other products' events: structure only.
        The connection's sequence rule (every message, all channels) is the connector's."""
    @staticmethod
    def coinbase_head(raw: bytes) -> tuple[str | None, int | None, int]:
        """A Coinbase message's (channel, sequence_num, timestamp ns or 0), events unread; or `ParseError`."""
    def apply_bybit_orderbook(
        self, raw: bytes, topic: str, last_seq: int
    ) -> tuple[int, int, int, bool, int] | None:
        """Apply a Bybit `orderbook.N.<symbol>` frame of `topic` (a snapshot replaces the book, VALID at
        its `u`; a delta sets absolute sizes, 0 removes, and must carry `u` = last `u` + 1 and a `seq`
        above `last_seq` when it states one).

        Returns (u, seq (0 if absent), ts ms, was a snapshot, levels applied), or None when the frame is
        not `topic`'s book (nothing changed). Raises `ParseError` (nothing changed) for malformed JSON or
        an off-unit level; `BookNotReadyError` for a delta before a snapshot or after a gap;
        `SequenceGapError` for a broken chain (the book is INVALID until the next snapshot).
        """
    def apply_kraken_book(
        self, raw: bytes, symbol: str, depth: int, price_decimals: int, qty_decimals: int
    ) -> tuple[bool, int, int, bool] | None:
        """Apply `symbol`'s entry of a Kraken WebSocket v2 `book` message (numbers read as their exact
        text; a snapshot replaces the book, VALID; qty 0 removes), cut both sides to `depth` and compare
        Kraken's CRC32 of the top ten levels (at the pair's decimals) with the entry's `checksum`.

        Returns (was a snapshot, levels applied, ts_event ns (0 without a timestamp), checksum matched),
        or None when the message is not `book` or holds nothing of the symbol (nothing changed). A
        mismatch leaves the book RESYNCING (re-subscribe for a snapshot). Raises `ParseError` (nothing
        changed) for malformed JSON, an off-unit level or a missing checksum; `BookNotReadyError` for an
        update while the book awaits a snapshot (nothing changed).
        """
    def begin_resync(self) -> None:
        """Mark the book RESYNCING (incremental updates are refused until the next snapshot)."""
    def mark_invalid(self, expected: int, got: int) -> None:
        """A connector's own sync rule found a gap: mark the book INVALID until the next snapshot."""
    def best_bid(self) -> tuple[int, int] | None:
        """(price, qty) of the best bid."""
    def best_ask(self) -> tuple[int, int] | None:
        """(price, qty) of the best ask."""
    def mid(self) -> float | None:
        """Mid price in price units (for analytics; may fall on a half unit)."""
    def spread(self) -> int | None: ...
    def is_crossed(self) -> bool: ...
    def is_locked(self) -> bool: ...
    def depth(self, side: Side, n: int = 10) -> list[tuple[int, int]]:
        """The best `n` levels of one side, best first."""
    def fill_estimate(self, side: Side, qty: int) -> tuple[int, int, int] | None:
        """Walk the book as a taker of `side` for `qty`: (filled qty, sum of price*qty, worst price)."""
    def imbalance(self, n: int = 5) -> float | None:
        """(bid qty - ask qty) / (bid qty + ask qty) over the best `n` levels."""
    def apply_okx_books(
        self, raw: bytes, inst_id: str, wire: InstrumentSpec | None = None
    ) -> tuple[str, int, int] | None:
        """Apply an OKX `books` push of `inst_id`: (verdict, seqId, ts ms), or None when the message is
        not `inst_id`'s books (nothing changed). Verdicts: "snapshot" (the book replaced, VALID),
        "update" (its prevSeqId chained), "waiting" (an update before a snapshot: ignored), "gap"
        (nothing applied, the book INVALID), "checksum" (the non-zero CRC32 over the top 25 levels
        disagrees: INVALID). `wire`: the spec of the wire's strings when sizes are in other units
        (swap contracts). Raises `ParseError` (nothing changed) for a malformed message."""
    def okx_book_checksum(self, wire: InstrumentSpec | None = None) -> int:
        """OKX's signed CRC32 over the first 25 levels per side, levels as plain decimals."""
    def kraken_checksum(self, price_decimals: int, qty_decimals: int) -> int:
        """Kraken CRC32 of the top 10 levels formatted at the pair's precision."""
    def __len__(self) -> int: ...

def okx_checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """OKX `books` checksum (signed CRC32) over the exact received strings (legacy: OKX now sends 0)."""

def kraken_checksum(asks: Sequence[tuple[str, str]], bids: Sequence[tuple[str, str]]) -> int:
    """Kraken book checksum (unsigned CRC32) over levels formatted at the pair's precision."""

# ---- rate limiter -----------------------------------------------------------------------------

@final
class Window:
    """One window of a quota: `limit` units per `interval_ns`.

    Fixed windows count in buckets aligned to multiples of the interval since the epoch (as Binance
    does); rolling windows are exact sliding windows (at most 100,000 units). `reserve` units are kept
    for priority requests such as cancels.
    """

    def __new__(cls, limit: int, interval_ns: int, *, rolling: bool = False, reserve: int = 0) -> Self: ...
    @property
    def limit(self) -> int: ...
    @property
    def interval_ns(self) -> int: ...
    @property
    def rolling(self) -> bool: ...
    @property
    def reserve(self) -> int: ...

@final
class RateLimiter:
    """Named quotas of one or more windows; a request is charged to all of its windows or none."""

    def __new__(cls) -> Self: ...
    def add_quota(self, name: str, windows: Sequence[Window]) -> int:
        """Register a quota and return its id; `InvalidInputError` on a bad window or duplicate name."""
    def quota_id(self, name: str) -> int:
        """The id of a named quota; raises `UnknownNameError`."""
    def try_acquire(self, quota: int, cost: int, now_ns: int, priority: bool = False) -> int | None:
        """None if `cost` was charged, else the earliest time (ns) the same request would pass.

        Priority requests (cancels) may use each window's reserve. A cost that can never fit raises
        `InvalidInputError`. Never sleeps.
        """
    def observe_usage(self, quota: int, interval_ns: int, used: int, now_ns: int) -> None:
        """Fold in venue-reported usage for the window with `interval_ns`; it only ever raises the count."""
    def block_until(self, quota: int, until_ns: int) -> None:
        """Nothing (not even priority requests) passes before `until_ns`: Retry-After, bans."""
    def usage(self, quota: int, now_ns: int) -> list[tuple[int, int, int]]:
        """Per window: (interval_ns, used, limit)."""

# ---- risk gate --------------------------------------------------------------------------------

@final
class TradingState:
    """ACTIVE, REDUCING (only position-reducing orders) or HALTED (no new orders)."""

    ACTIVE: ClassVar[TradingState]
    REDUCING: ClassVar[TradingState]
    HALTED: ClassVar[TradingState]
    def __int__(self) -> int: ...

@final
class OrderType:
    LIMIT: ClassVar[OrderType]
    MARKET: ClassVar[OrderType]
    def __int__(self) -> int: ...

@final
class TimeInForce:
    GTC: ClassVar[TimeInForce]
    IOC: ClassVar[TimeInForce]
    FOK: ClassVar[TimeInForce]
    GTD: ClassVar[TimeInForce]
    def __int__(self) -> int: ...

@final
class DenyReason:
    """Why the gate denied an order."""

    UNKNOWN_INSTRUMENT: ClassVar[DenyReason]
    UNKNOWN_STRATEGY: ClassVar[DenyReason]
    KILL_SWITCH: ClassVar[DenyReason]
    TRADING_HALTED: ClassVar[DenyReason]
    TRADING_REDUCING: ClassVar[DenyReason]
    DAILY_LOSS_LIMIT: ClassVar[DenyReason]
    INSTRUMENT_NOT_TRADABLE: ClassVar[DenyReason]
    INVALID_QUANTITY: ClassVar[DenyReason]
    INVALID_PRICE: ClassVar[DenyReason]
    NUMERIC_OVERFLOW: ClassVar[DenyReason]
    PRICE_NOT_ON_TICK: ClassVar[DenyReason]
    QTY_NOT_ON_LOT: ClassVar[DenyReason]
    BELOW_MIN_QTY: ClassVar[DenyReason]
    MAX_ORDER_QTY: ClassVar[DenyReason]
    BELOW_MIN_NOTIONAL: ClassVar[DenyReason]
    MAX_ORDER_NOTIONAL: ClassVar[DenyReason]
    INVALID_EXPIRY: ClassVar[DenyReason]
    NO_REFERENCE_PRICE: ClassVar[DenyReason]
    REFERENCE_FROM_FUTURE: ClassVar[DenyReason]
    PRICE_COLLAR: ClassVar[DenyReason]
    REDUCE_ONLY_WOULD_INCREASE: ClassVar[DenyReason]
    DUPLICATE_INTENT: ClassVar[DenyReason]
    SELF_CROSS: ClassVar[DenyReason]
    POSITION_LIMIT: ClassVar[DenyReason]
    VENUE_EXPOSURE_LIMIT: ClassVar[DenyReason]
    GROSS_EXPOSURE_LIMIT: ClassVar[DenyReason]
    NET_EXPOSURE_LIMIT: ClassVar[DenyReason]
    OPEN_ORDER_LIMIT: ClassVar[DenyReason]
    ORDER_RATE_LIMIT: ClassVar[DenyReason]
    CURRENCY_DEPEG: ClassVar[DenyReason]
    """The instrument's quote currency is off its peg (beyond `max_depeg_bps`): only reducing orders pass."""
    ASSET_EXPOSURE_LIMIT: ClassVar[DenyReason]
    """The asset's worst-case exposure summed over every venue would pass its limit."""
    def __int__(self) -> int: ...

@final
class Approval:
    """An order the gate approved. Only the gate creates these; connectors accept nothing else."""

    @property
    def approved(self) -> bool: ...
    @property
    def key(self) -> int:
        """The gate's key for this order: acks, fills and cancels refer to it."""
    @property
    def strategy(self) -> int: ...
    @property
    def instrument(self) -> int: ...
    @property
    def side(self) -> Side: ...
    @property
    def order_type(self) -> OrderType: ...
    @property
    def price(self) -> int:
        """Approved price in price units (a market order carries its protective price here)."""
    @property
    def qty(self) -> int: ...
    @property
    def tif(self) -> TimeInForce: ...
    @property
    def expire_ns(self) -> int: ...
    @property
    def reduce_only(self) -> bool: ...
    @property
    def post_only(self) -> bool: ...
    @property
    def approved_ns(self) -> int: ...
    @property
    def notional(self) -> Decimal: ...
    def __bool__(self) -> bool: ...

@final
class Denial:
    """A refused order: a typed reason and a one-line detail."""

    @property
    def approved(self) -> bool: ...
    @property
    def reason(self) -> DenyReason: ...
    @property
    def detail(self) -> str: ...
    def __bool__(self) -> bool: ...

@final
class RiskGate:
    """The one pre-trade risk gate (../shared/RELIABILITY.md §2.1-2.4).

    Limits are explicit and positive; notional limits are decimal strings (or `Decimal`) in the
    reporting currency (per-instrument limits in the instrument's own quote currency). Venues,
    strategies, currencies, assets and instruments get integer ids when registered.

    Every aggregate (global gross/net, venue gross, asset exposure, PnL, daily loss) is in the reporting
    currency: each instrument's quote-currency figure times its currency's rate (9 decimal places),
    truncated toward zero, then summed.
    """

    def __new__(
        cls,
        *,
        max_gross_notional: str | Decimal,
        max_net_notional: str | Decimal,
        max_open_orders: int,
        max_orders_per_sec: int,
        daily_loss_limit: str | Decimal,
        daily_loss_halt: str | Decimal | None = None,
        duplicate_window_ns: int = 100_000_000,
        max_reference_age_ns: int = 2_000_000_000,
    ) -> Self: ...
    def add_venue(
        self,
        name: str,
        *,
        max_gross_notional: str | Decimal,
        max_open_orders: int,
        max_orders_per_sec: int | None = None,
        daily_loss_limit: str | Decimal | None = None,
        daily_loss_halt: str | Decimal | None = None,
        max_net_notional: str | Decimal | None = None,
    ) -> int:
        """A venue (an account on one exchange and market). `max_net_notional` bounds its worst-case long
        and short notional over its instruments (reporting currency). Optional: its own rolling one-second
        throttle, and its own daily-loss latch (REDUCING at `daily_loss_limit`, HALTED at
        `daily_loss_halt`, which defaults to the limit) on the venue's PnL, latched until `reset_daily`.
        """
    def add_currency(self, name: str, rate: str | Decimal = "1", *, max_depeg_bps: int | None = None) -> int:
        """A quote currency (USDT, USDC, pUSD, USD...) at `rate` reporting-currency units per unit (at
        most 9 decimal places, > 0). While |rate - 1| exceeds `max_depeg_bps`, orders on instruments
        quoted in it are denied `CURRENCY_DEPEG` unless they reduce a position."""
    def set_rate(self, currency: int, rate: str | Decimal) -> None:
        """A new rate: every instrument quoted in the currency, and every aggregate, is re-valued."""
    def currency_rate(self, currency: int) -> Decimal: ...
    def add_asset(
        self, name: str, *, max_net_notional: str | Decimal, max_gross_notional: str | Decimal | None = None
    ) -> int:
        """An asset (BTC, ETH...) whose worst-case long and short are summed over every instrument of it on
        every venue, so a spot long and a perp short elsewhere net out. An order that would take the long
        above `max_net_notional`, the short below its negative, or the summed gross above
        `max_gross_notional` is denied `ASSET_EXPOSURE_LIMIT`; reducing orders never are."""
    def add_strategy(self, name: str, *, max_orders_per_sec: int) -> int: ...
    def add_instrument(
        self,
        venue: int,
        symbol: str,
        spec: InstrumentSpec,
        *,
        max_order_qty: str | Decimal,
        max_order_notional: str | Decimal,
        max_position: str | Decimal,
        max_open_orders: int,
        collar_bps: int,
        currency: int | None = None,
        asset: int | None = None,
    ) -> int:
        """`currency`: its quote currency (None = the reporting currency); `asset`: counted towards it."""
    def instrument_id(self, venue: int, symbol: str) -> int: ...
    def check(
        self,
        strategy: int,
        instrument: int,
        side: Side,
        price: int,
        qty: int,
        now_ns: int,
        order_type: OrderType = ...,
        tif: TimeInForce = ...,
        expire_ns: int = 0,
        reduce_only: bool = False,
        post_only: bool = False,
    ) -> Approval | Denial:
        """Check one order. An `Approval` is tracked as in flight and counts against every limit until
        `on_fill` fills it or `on_closed` ends it. A market order passes price 0 and gets a protective
        price through the collar.
        """
    def rehearse(
        self,
        strategy: int,
        instrument: int,
        side: Side,
        price: int,
        qty: int,
        now_ns: int,
        order_type: OrderType = ...,
        tif: TimeInForce = ...,
        expire_ns: int = 0,
        reduce_only: bool = False,
        post_only: bool = False,
    ) -> Denial | None:
        """`check` without its effects (nothing tracked, no throttle consumed, no duplicate check): None when
        the order would pass, else the `Denial`. The engine's rehearsal keeps the check's code warm."""
    def set_reference(self, instrument: int, bid: int, ask: int, ts_ns: int) -> None:
        """Fresh reference prices (0 = that side is empty) for the collar and the marks."""
    def invalidate_reference(self, instrument: int) -> None:
        """The book behind the reference is invalid: nothing trades off it until the next reference."""
    def set_tradable(self, instrument: int, tradable: bool) -> None: ...
    def on_ack(self, key: int) -> None: ...
    def on_unknown(self, key: int) -> None:
        """The outcome is unknown (timeout, 5xx): the order keeps counting against every limit."""
    def on_fill(self, key: int, qty: int, price: int, fee: str = "0") -> None: ...
    def on_external_fill(self, instrument: int, side: Side, qty: int, price: int, fee: str = "0") -> None: ...
    def on_closed(self, key: int) -> None:
        """The order ended without further fills (canceled, rejected, expired)."""
    def set_position(self, instrument: int, position: int, avg_price: int) -> None:
        """Reconciliation: the venue reports this position, carried at `avg_price`."""
    def position(self, instrument: int) -> int: ...
    def open_quantity(self, instrument: int) -> tuple[int, int]:
        """(buy, sell) quantity of live orders: in flight, open or unknown."""
    def set_trading_state(
        self, state: TradingState, *, venue: int | None = None, strategy: int | None = None
    ) -> None: ...
    def trading_state(self, *, venue: int | None = None, strategy: int | None = None) -> TradingState:
        """The scope's state; global and venue scopes include their daily-loss latch."""
    def is_killed(self, *, venue: int | None = None, strategy: int | None = None) -> bool: ...
    def kill(
        self, reason: str, now_ns: int, *, venue: int | None = None, strategy: int | None = None
    ) -> None:
        """Latch HALTED for the scope; only `reset_kill` clears the latch."""
    def reset_kill(
        self, operator: str, now_ns: int, *, venue: int | None = None, strategy: int | None = None
    ) -> None:
        """Clear a latched kill (the scope stays HALTED until its state is set). Audited."""
    def reset_daily(self, now_ns: int) -> None:
        """A new trading day: the global and every venue's daily-loss latch clear."""
    def daily_pnl(self) -> Decimal: ...
    def venue_daily_pnl(self, venue: int) -> Decimal:
        """The venue's PnL today (realized + marked, fees included), in the reporting currency."""
    def venue_gross_exposure(self, venue: int) -> Decimal: ...
    def asset_exposure(self, asset: int) -> tuple[Decimal, Decimal]:
        """(worst-case long, worst-case short) of the asset over every venue, open orders included."""
    def asset_net(self, asset: int) -> Decimal:
        """The asset's positions at their marks over every venue (no open orders)."""
    def gross_exposure(self) -> Decimal: ...
    def net_exposure(self) -> tuple[Decimal, Decimal]:
        """(worst-case long, worst-case short) notional across all instruments."""
    def open_order_count(self) -> int: ...
    def live_orders(self, *, venue: int | None = None, strategy: int | None = None) -> list[int]: ...
    def unknown_orders(self) -> list[int]: ...
    def audit_log(self) -> list[str]: ...

# ---- signing ----------------------------------------------------------------------------------

_Param = tuple[str, str | int | bool]

SENSITIVE_HEADERS: list[str]
"""Header names whose values are credentials; redacted in every repr."""

@final
class Keystore:
    """Secret material from an encrypted keystore (Web3 Secret Storage v3: scrypt or PBKDF2, AES-128-CTR).

    Decrypted in Rust and handed to signers in place of a `str`; the plaintext never comes back to Python.
    """

    @staticmethod
    def decrypt(keystore_json: str, password: str) -> Keystore:
        """Raises `CredentialError` on a wrong password (MAC mismatch) or a malformed document."""
    @staticmethod
    def encrypt(
        plaintext: str,
        password: str,
        *,
        salt: bytes,
        iv: bytes,
        log_n: int = 18,
        id: str = "00000000-0000-4000-8000-000000000000",
    ) -> str:
        """Keystore v3 JSON for `plaintext` (any length) with scrypt n = 2^log_n, r = 8, p = 1.
        `salt` (32 bytes) and `iv` (16 bytes) must be fresh random bytes (`os.urandom`)."""

@final
class SignedRequest:
    """A request ready to send: what was signed is exactly what goes out."""

    @property
    def method(self) -> str: ...
    @property
    def path(self) -> str: ...
    @property
    def query(self) -> str:
        """The query string without `?` (may be empty)."""
    @property
    def body(self) -> bytes: ...
    @property
    def headers(self) -> list[tuple[str, str]]: ...
    @property
    def target(self) -> str:
        """`path?query`, or the path when there is no query."""

@final
class BinanceSigner:
    """Binance HMAC-SHA256 signer (spot, USD-M futures, margin). The secret stays inside."""

    def __new__(cls, api_key: str, secret: str | Keystore) -> Self: ...
    @staticmethod
    def ed25519(api_key: str, private_key_pem: str | Keystore) -> BinanceSigner:
        """A signer for an Ed25519 API key (PKCS#8 PEM private key): base64 signatures."""
    def sign(
        self,
        method: str,
        path: str,
        params: Sequence[_Param],
        timestamp_ms: int,
        recv_window_ms: int | None = None,
    ) -> SignedRequest:
        """Params plus recvWindow and timestamp, sorted by name, form-encoded into the query string,
        signed, and `signature` appended. The body is empty."""
    def ws_params(
        self, params: Sequence[_Param], timestamp_ms: int, recv_window_ms: int | None = None
    ) -> str:
        """The signed `params` JSON object of a WebSocket API request: apiKey and timestamp added, sorted by
        name, signed over their form encoding, `signature` last."""
    def signature(self, payload: bytes) -> str:
        """The signature of an exact payload: hex HMAC-SHA256, or base64 Ed25519."""

@final
class BybitSigner:
    """Bybit v5 HMAC-SHA256 signer."""

    def __new__(cls, api_key: str, secret: str | Keystore) -> Self: ...
    def sign(
        self,
        method: str,
        path: str,
        params: Sequence[_Param],
        timestamp_ms: int,
        recv_window_ms: int = 5000,
    ) -> SignedRequest:
        """pybit's request on every input: GET params sorted into `k=v&...` (signed unencoded, sent
        percent-encoded as pybit's transport sends it; `%` and `#` always encoded), POST `json.dumps`
        of the params (`{}` when empty). Signed over `timestamp + apiKey + recvWindow + payload`;
        X-BAPI-* headers."""
    def signature(self, timestamp_ms: int, recv_window_ms: int, payload: bytes) -> str: ...
    def ws_auth(self, expires_ms: int) -> tuple[str, int, str]:
        """The private WebSocket's `auth` args: (apiKey, expires, hex HMAC-SHA256 of
        `"GET/realtime" + expires`)."""

@final
class OkxSigner:
    """OKX v5 signer: base64 HMAC-SHA256 of `timestamp + METHOD + requestPath + body`."""

    def __new__(
        cls, api_key: str, secret: str | Keystore, passphrase: str | Keystore, *, simulated: bool = False
    ) -> Self: ...
    def sign(self, method: str, path: str, params: Sequence[_Param], timestamp_ms: int) -> SignedRequest:
        """GET/DELETE: params in the query string (given order); POST: compact JSON body. OK-ACCESS-*
        headers with an ISO-8601 millisecond timestamp, and x-simulated-trading."""
    def signature(self, prehash: bytes) -> str: ...
    def ws_login(self, timestamp_s: int) -> tuple[str, str, str, str]:
        """(apiKey, passphrase, timestamp, sign) for the WebSocket login op."""

@final
class KrakenSigner:
    """Kraken spot REST signer. Nonces are max(now in ms, last + 1): strictly increasing even when the
    clock steps back; persist `last_nonce` and pass it back after a restart."""

    def __new__(cls, api_key: str, secret: str | Keystore, *, last_nonce: int = 0) -> Self: ...
    @property
    def last_nonce(self) -> int: ...
    def sign(self, path: str, params: Sequence[_Param], now_ns: int) -> SignedRequest:
        """POST body `nonce=<n>&<params>` (form-encoded) with API-Key and API-Sign headers."""
    def rehearse(self, path: str, params: Sequence[_Param], now_ns: int) -> SignedRequest:
        """What `sign` would return at `now_ns`, its nonce left untaken: nothing the venue checks is used."""
    def signature(self, path: str, nonce: int, body: bytes) -> str: ...

@final
class PolymarketOrder:
    """A signed CLOB order (V2, or legacy V1): fields, EIP-712 signature and hash (the venue's order id)."""

    @property
    def version(self) -> int: ...
    @property
    def nonce(self) -> int:
        """V1 only (0 for V2)."""
    @property
    def fee_rate_bps(self) -> int:
        """V1 only (0 for V2)."""
    @property
    def salt(self) -> int: ...
    @property
    def maker(self) -> str: ...
    @property
    def signer(self) -> str: ...
    @property
    def token_id(self) -> str: ...
    @property
    def maker_amount(self) -> int: ...
    @property
    def taker_amount(self) -> int: ...
    @property
    def side(self) -> Side: ...
    @property
    def signature_type(self) -> int: ...
    @property
    def timestamp_ms(self) -> int: ...
    @property
    def expiration(self) -> int: ...
    @property
    def signature(self) -> str: ...
    @property
    def hash(self) -> str: ...
    def body(
        self, owner: str, order_type: str = "GTC", post_only: bool = False, defer_exec: bool = False
    ) -> str:
        """The `POST /order` JSON body, byte for byte as py-clob-client-v2 serializes it."""

@final
class PolymarketSigner:
    """Polymarket wallet signer: CLOB V2 orders on the CTF and Neg Risk exchanges (EIP-712), L1 ClobAuth
    headers and L2 HMAC headers. Signature types: 0 EOA, 1 POLY_PROXY, 2 POLY_GNOSIS_SAFE, 3 POLY_1271
    (all but EOA need `funder`: the proxy, Safe or ERC-1271 wallet). Keys stay inside."""

    def __new__(
        cls,
        private_key: str | Keystore,
        *,
        chain_id: int = 137,
        signature_type: int = 0,
        funder: str | None = None,
    ) -> Self: ...
    @property
    def address(self) -> str: ...
    @property
    def funder(self) -> str: ...
    def set_api_creds(self, api_key: str, secret: str | Keystore, passphrase: str | Keystore) -> None: ...
    def l1_headers(self, timestamp_s: int, nonce: int = 0) -> list[tuple[str, str]]: ...
    def l2_headers(
        self, timestamp_s: int, method: str, path: str, body: bytes | None = None
    ) -> list[tuple[str, str]]: ...
    def order(
        self,
        token_id: str,
        price: str,
        size: str,
        side: Side,
        *,
        tick_size: str,
        neg_risk: bool,
        salt: int,
        timestamp_ms: int,
        expiration: int = 0,
        metadata: str | None = None,
        builder: str | None = None,
        version: int = 2,
        nonce: int = 0,
        fee_rate_bps: int = 0,
    ) -> PolymarketOrder:
        """Amounts by py-clob-client-v2's rules in exact decimals (price on the tick, size floored to
        0.01), then the EIP-712 signature for the exchange the market trades on. `version=1` signs for the
        legacy V1 exchange (nonce and fee_rate_bps signed; no timestamp, metadata or builder); `version=3`
        signs a Protocol V2 market's order (its token id is a position id) for ExchangeV3, EIP-712 domain
        version "3", whatever `neg_risk` says."""
    def sign_transaction(
        self, *, nonce: int, gas_price: int, gas: int, to: str, data: str, value: int = 0
    ) -> tuple[str, str]:
        """A signed legacy EIP-155 Polygon transaction from the signing EOA (approvals, wrapping USDC.e
        into pUSD): (raw transaction, transaction hash), 0x hex. The key never leaves the signer."""
    def post_order(
        self,
        token_id: str,
        price: str,
        size: str,
        side: Side,
        *,
        tick_size: str,
        neg_risk: bool,
        salt: int,
        timestamp_ms: int,
        timestamp_s: int,
        order_type: str = "GTC",
        post_only: bool = False,
        defer_exec: bool = False,
        expiration: int = 0,
        version: int = 2,
    ) -> tuple[PolymarketOrder, SignedRequest]:
        """`POST /order`: the signed order, its body serialized once, and L2 headers over that body."""

@final
class CoinbaseSigner:
    """Coinbase Advanced Trade (CDP keys): a fresh JWT per request, ES256 for EC keys (PEM) or EdDSA for
    Ed25519 keys (base64), with coinbase-advanced-py's header and claims. The key stays inside."""

    def __new__(
        cls, api_key: str, private_key: str | Keystore, *, host: str = "api.coinbase.com"
    ) -> Self: ...
    @property
    def algorithm(self) -> str: ...
    def jwt(self, uri: str | None, now_s: int, nonce: str) -> str:
        """A JWT for a REST `uri` ("GET api.coinbase.com/api/v3/..."), or for the WebSocket (`None`)."""
    def sign(self, method: str, path: str, params: Sequence[_Param], now_s: int, nonce: str) -> SignedRequest:
        """`Authorization: Bearer <jwt>`; GET/DELETE params in the query, others as a JSON body."""

@final
class AlpacaSigner:
    """Alpaca key headers. The secret is held in Rust and only leaves in the header it must be sent in."""

    def __new__(cls, key_id: str, secret: str | Keystore) -> Self: ...
    def headers(self) -> list[tuple[str, str]]:
        """[("APCA-API-KEY-ID", key_id), ("APCA-API-SECRET-KEY", secret)]"""
