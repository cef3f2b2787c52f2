"""Canonical instruments and each venue's name for them (`[symbols.<CANONICAL>]` in the config).

```toml
[symbols.BTC-USDT]          # the canonical name strategies are written against
asset = "BTC"               # optional: default the part before the first "-"
quote = "USDT"              # optional: default the part after it (up to a next "-": BTC-USDT-SWAP -> USDT)
binance = "BTCUSDT"         # venue = that venue's own symbol
okx = "BTC-USDT"
kraken = "XBT/USDT"
```

A strategy leg names `venue:SYMBOL`. The rule (`SymbolMap.resolve`):
1. `SYMBOL` has a `[symbols.SYMBOL]` table: it must map that venue (else "unmapped symbol"); the venue's
   symbol is the mapped one.
2. Otherwise `SYMBOL` is taken verbatim as the venue's own symbol, unless some `[symbols]` table already
   maps a venue to it (then the leg must use that table's canonical name: one name per instrument).
A verbatim leg's asset and quote follow the same default as a table's (`SPY` has asset `SPY`, no quote).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from trader.errors import ConfigError

__all__ = ["SymbolEntry", "SymbolMap", "parse_symbols", "split_canonical"]

MAX_SYMBOL_LEN = 64


@dataclass(frozen=True)
class SymbolEntry:
    """One canonical instrument: its asset and quote currency, and its symbol on each venue."""

    canonical: str
    asset: str
    quote: str
    venues: dict[str, str] = field(default_factory=dict)  # venue -> that venue's symbol


def split_canonical(canonical: str) -> tuple[str, str]:
    """The default (asset, quote) of a canonical name: `BTC-USDT` -> (BTC, USDT), `BTC-USDT-SWAP` ->
    (BTC, USDT), `SPY` -> (SPY, "")."""
    parts = canonical.split("-")
    return parts[0], parts[1] if len(parts) > 1 else ""


def _name(where: str, raw: object) -> str:
    if (
        not isinstance(raw, str)
        or not raw
        or len(raw) > MAX_SYMBOL_LEN
        or not raw.isprintable()
        or " " in raw
    ):
        raise ConfigError(
            f"{where} must be a symbol (1 to {MAX_SYMBOL_LEN} printable characters), got {raw!r}"
        )
    return raw


def parse_symbols(raw: object, known_venues: Iterable[str]) -> dict[str, SymbolEntry]:
    """The `[symbols]` tables; a key other than asset/quote must be a venue the registry knows."""
    if not isinstance(raw, dict):
        raise ConfigError(f"[symbols] must be a table, got {type(raw).__name__}")
    known = list(known_venues)
    out: dict[str, SymbolEntry] = {}
    for canonical, body in raw.items():
        section = f"[symbols.{canonical}]"
        _name(f"[symbols] name {canonical!r}", canonical)
        if ":" in canonical:
            raise ConfigError(f"{section} a canonical name cannot hold ':' (it separates a leg's venue)")
        if not isinstance(body, dict):
            raise ConfigError(f'{section} must be a table (venue = "SYMBOL")')
        asset, quote = split_canonical(canonical)
        venues: dict[str, str] = {}
        for key, val in body.items():
            if key in ("asset", "quote"):
                continue
            if key not in known:
                raise ConfigError(f"{section} {key}: unknown venue {key!r} (venues: {', '.join(known)})")
            venues[key] = _name(f"{section} {key}", val)
        out[canonical] = SymbolEntry(
            canonical,
            _name(f"{section} asset", body.get("asset", asset)),
            quote if "quote" not in body else _name(f"{section} quote", body["quote"]),
            venues,
        )
    return out


class SymbolMap:
    """Canonical names to venue symbols and back, from the config's `[symbols]` tables."""

    def __init__(self, entries: Mapping[str, SymbolEntry]) -> None:
        self._entries = dict(entries)
        self._back: dict[tuple[str, str], str] = {}  # (venue, venue symbol) -> canonical
        self._mentioned: dict[str, str] = {}  # a venue symbol -> the canonical that maps it
        for e in self._entries.values():
            for venue, sym in e.venues.items():
                self._back[(venue, sym)] = e.canonical
                self._mentioned.setdefault(sym, e.canonical)

    def __contains__(self, canonical: object) -> bool:
        return canonical in self._entries

    def entries(self) -> dict[str, SymbolEntry]:
        return dict(self._entries)

    def resolve(self, venue: str, symbol: str) -> str:
        """The venue's own symbol for a leg `venue:symbol` (the rule in the module docstring);
        `ConfigError` for an unmapped symbol."""
        entry = self._entries.get(symbol)
        if entry is not None:
            if venue not in entry.venues:
                mapped = ", ".join(entry.venues) or "none"
                raise ConfigError(
                    f'unmapped symbol: [symbols.{symbol}] has no {venue} = "..." (it maps: {mapped})'
                )
            return entry.venues[venue]
        canonical = self._mentioned.get(symbol)
        if canonical is not None:
            raise ConfigError(
                f"{venue}:{symbol} names a venue symbol of [symbols.{canonical}]: use {venue}:{canonical}"
            )
        return symbol

    def canonical(self, venue: str, venue_symbol: str) -> str:
        """The canonical name of a venue's symbol (the symbol itself when no table maps it)."""
        return self._back.get((venue, venue_symbol), venue_symbol)

    def asset_quote(self, canonical: str) -> tuple[str, str]:
        """The asset and quote currency of a canonical name (a table's, else the name's default)."""
        e = self._entries.get(canonical)
        return (e.asset, e.quote) if e is not None else split_canonical(canonical)
