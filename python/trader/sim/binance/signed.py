"""Signed requests: `X-MBX-APIKEY` + `signature` over the exact query+body bytes (REST) or over the
other params sorted by name as `k=v&...` (WebSocket API), HMAC-SHA256 hex or Ed25519 base64 (checked by
`trader.sim.auth`, never by the core under test), then the `timestamp`/`recvWindow` window."""

from __future__ import annotations

from typing import Any

from trader.sim.auth import ed25519_b64, hmac_sha256_hex
from trader.sim.binance.errors import ApiError, invalid_key, mandatory
from trader.sim.binance.state import Account


def ws_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def verify(account: Account, payload: str, signature: str) -> None:
    """HMAC-SHA256 hex (case-insensitive) or Ed25519 base64 over `payload`; -1022 otherwise."""
    if account.public_key is not None:
        ok = ed25519_b64(account.public_key, payload, signature)
    else:
        ok = hmac_sha256_hex(account.secret, payload, signature)
    if not ok:
        raise ApiError(-1022, "Signature for this request is not valid.")


def check_time(params: dict[str, str], now: int) -> None:
    try:
        ts = int(params["timestamp"])
        window = int(float(params.get("recvWindow", "5000") or 5000))
    except (KeyError, ValueError):
        raise mandatory("timestamp") from None
    if window > 60_000:
        raise ApiError(-1131, "recvWindow must be less than 60000")
    if ts >= now + 1000 or now - ts > window:
        raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def rest_auth(
    accounts: dict[str, Account], key: str, params: dict[str, str], query: str, body: str, now: int
) -> Account:
    """The account of a signed REST request (`key` from X-MBX-APIKEY)."""
    if not key:
        raise ApiError(-2014, "API-key format invalid.", 401)
    account = accounts.get(key)
    if account is None:
        raise invalid_key()
    sig = params.get("signature")
    if not sig:
        raise mandatory("signature")
    payload = "".join(
        "&".join(p for p in part.split("&") if not p.startswith("signature="))
        for part in (query, body)
        if part
    )
    verify(account, payload, sig)
    check_time(params, now)
    return account


def ws_auth(
    accounts: dict[str, Account], params: dict[str, Any], now: int
) -> tuple[str, Account, dict[str, str]]:
    """A signed WebSocket API request: `apiKey`, `timestamp`, `signature` over the other params sorted
    by name. Returns the key, its account and the params as strings."""
    key = str(params.get("apiKey", ""))
    account = accounts.get(key)
    if account is None:
        raise invalid_key()
    sig = str(params.get("signature", ""))
    if not sig:
        raise mandatory("signature")
    payload = "&".join(f"{k}={ws_value(params[k])}" for k in sorted(params) if k != "signature")
    verify(account, payload, sig)
    strs = {k: ws_value(v) for k, v in params.items()}
    check_time(strs, now)
    return key, account, strs
