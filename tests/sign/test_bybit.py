"""Bybit v5 signing against pybit (the oracle)."""

import json

import pybit._http_manager as pybit_http
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pybit.unified_trading import HTTP

from tests.sign.strategies import api_keys, params, secrets, timestamps_ms
from trader.core import BybitSigner


def _sdk(key: str, secret: str, ts: int, monkeypatch: pytest.MonkeyPatch) -> HTTP:
    monkeypatch.setattr(pybit_http._helpers, "generate_timestamp", lambda: ts)
    return HTTP(api_key=key, api_secret=secret)


@settings(max_examples=200, deadline=None)
@given(api_keys, secrets, params, timestamps_ms, st.integers(min_value=1, max_value=60_000))
def test_get_matches_pybit(key: str, secret: str, p: dict[str, str], ts: int, recv: int) -> None:
    with pytest.MonkeyPatch.context() as mp:
        sdk = _sdk(key, secret, ts, mp)
        payload = sdk.prepare_payload("GET", dict(p))
        sdk_headers = sdk._prepare_headers(payload, recv)
    ours = BybitSigner(key, secret).sign("GET", "/v5/order/realtime", list(p.items()), ts, recv)
    assert ours.query == payload
    assert dict(ours.headers) == {k: v for k, v in sdk_headers.items() if k != "Content-Type"}


@settings(max_examples=200, deadline=None)
@given(api_keys, secrets, params, timestamps_ms, st.integers(min_value=1, max_value=60_000))
def test_post_matches_pybit(key: str, secret: str, p: dict[str, str], ts: int, recv: int) -> None:
    ours = BybitSigner(key, secret).sign("POST", "/v5/order/create", list(p.items()), ts, recv)
    body = ours.body.decode()
    assert json.loads(body) == p
    assert body == pybit_http._V5HTTPManager.prepare_payload("POST", dict(p))  # pybit's bytes, "{}" if empty
    with pytest.MonkeyPatch.context() as mp:
        sdk_headers = _sdk(key, secret, ts, mp)._prepare_headers(body, recv)
    assert dict(ours.headers) == sdk_headers


@settings(max_examples=100, deadline=None)
@given(api_keys, secrets, timestamps_ms)
def test_ws_auth_matches_pybit(key: str, secret: str, expires: int) -> None:
    """The private WebSocket login: pybit's `auth` args (`_WebSocketManager._auth`) for the same expiry."""
    from pybit._websocket_stream import generate_signature

    sdk_signature = generate_signature(False, secret, f"GET/realtime{expires}")
    assert BybitSigner(key, secret).ws_auth(expires) == (key, expires, sdk_signature)
