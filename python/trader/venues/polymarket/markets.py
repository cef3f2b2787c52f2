"""The two kinds of Polymarket market and how their trading ids read.

- CTF markets (Gamma `version` "v1" or absent): outcome tokens of the Conditional Tokens contract; their
  ids are Gamma's `clobTokenIds`; orders are signed for the CTF Exchange V2 or the Neg Risk CTF Exchange
  V2 (EIP-712 domain version "2"); CLOB balances use asset type `CONDITIONAL`.
- Protocol V2 markets (Gamma `version` "v2"): positions held in the PositionManager; their ids are
  Gamma's `positionIds`; orders are signed for ExchangeV3 (domain version "3"); CLOB balances use asset
  type `CONDITIONAL-V2`.

Confirmed in the official SDK polymarket-client 0.14.0 (repo Polymarket/py-sdk): `models/gamma/market.py`
(`version` "v1"/"v2", `positionIds`), `_internal/protocol.py` (`is_v2_position_id`: the bits 40..103 of a
position id are zero), `_internal/actions/relayer/positions.py` (a binary market's position ids are its
31-byte condition id followed by the outcome index byte 00 / 01), `_internal/actions/orders/orders.py`
(protocol version "3" for a position id) and `allowance.py` (`CONDITIONAL-V2` for a position id).
"""

from __future__ import annotations

import json
import re
from typing import Any

_RESERVED = ((1 << 64) - 1) << 40  # zero in every Protocol V2 position id
_HEX = re.compile(r"0x[0-9a-fA-F]+")


def _uint(asset: str) -> int | None:
    raw = asset.strip()
    try:
        value = int(raw, 16) if raw[:2].lower() == "0x" else int(raw, 10)
    except ValueError:
        return None
    return value if 0 <= value < 1 << 256 else None


def is_position_id(asset: str) -> bool:
    """Whether a trading id is a Protocol V2 position id (else a CTF token id), as the SDK decides."""
    value = _uint(asset)
    return value is not None and value & _RESERVED == 0


def exchange_version(asset: str) -> int:
    """The EIP-712 domain version an order for `asset` is signed with: 3 (ExchangeV3) or 2."""
    return 3 if is_position_id(asset) else 2


def asset_type(asset: str) -> str:
    """The CLOB `/balance-allowance` asset type of an outcome: `CONDITIONAL-V2` or `CONDITIONAL`."""
    return "CONDITIONAL-V2" if is_position_id(asset) else "CONDITIONAL"


def position_ids(condition_id: str) -> tuple[str, str]:
    """A binary Protocol V2 market's (YES, NO) position ids from its condition id (31 bytes, or the
    32-byte market id: those 31 bytes and 00), as decimal strings."""
    if not _HEX.fullmatch(condition_id) or len(condition_id) not in (64, 66):
        raise ValueError(f"not a Protocol V2 condition id: {condition_id!r}")
    body = condition_id[2:].lower()
    if len(body) == 64:
        if not body.endswith("00"):
            raise ValueError(f"not a Protocol V2 market id (it ends in 00): {condition_id!r}")
        body = body[:-2]
    return str(int(body + "00", 16)), str(int(body + "01", 16))


def _strings(raw: Any) -> list[str]:
    """A Gamma list field: a JSON-encoded string array, or (some answers) an array."""
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw else []
        except ValueError:
            return []
    return [str(x) for x in raw] if isinstance(raw, list) else []


def gamma_version(row: dict[str, Any]) -> str:
    """Gamma's `version` of a market: "v2" (Protocol V2) or "v1" (CTF; also when absent)."""
    v = str(row.get("version") or "v1").lower()
    return v if v in ("v1", "v2") else "v1"


def trading_ids(row: dict[str, Any]) -> list[str]:
    """The ids a Gamma market trades under: `positionIds` for "v2", `clobTokenIds` for "v1"."""
    return _strings(row.get("positionIds") if gamma_version(row) == "v2" else row.get("clobTokenIds"))
