"""Bybit v5 signing on the inputs the issue names: query values with space, `+`, `/`, `:`, `%` and
non-ASCII (and the rest of ASCII's punctuation and controls), and an empty POST body, against pybit (the
oracle) and the simulator's independent check.

pybit signs `timestamp + key + recvWindow + payload`, where its GET payload is the *unencoded* `k=v&...`
(sorted) and its POST payload `json.dumps(params)` (", " / ": " separators, non-ASCII as \\uXXXX; an empty
POST is "{}"). Our request is pybit's: the same body, and the GET query as pybit's transport (`requests`)
puts it on the wire (`PreparedRequest.path_url`), both signed as pybit signs them. The one exception is a
GET value where pybit's own request cannot be verified against what it signed: a valid `%XX` escape in a
value (`requests` keeps or decodes it) or a `#` (the URL's fragment: never sent). There ours encodes `%`
and `#`, so the venue's percent-decoding of the query gives back the signed payload, as it does for every
other input; the tests below show pybit's form failing exactly there."""

from __future__ import annotations

import json
import re
import string
from urllib.parse import unquote

import pybit._http_manager as pybit_http
from hypothesis import given, settings
from hypothesis import strategies as st
from pybit.unified_trading import HTTP

from tests.sign.strategies import api_keys, keys, secrets, timestamps_ms
from trader.core import BybitSigner
from trader.sim.auth import hmac_sha256_hex

RESERVED_CHARS = " +/:%&=?#é€中"  # the issue's, and the separators
MORE_CHARS = "[]\"\\<>{}|^`~!*'()@$,;\x01\x7f\u00a0😀"  # the rest of ASCII's punctuation, controls, astral
wide_values = st.text(
    alphabet=string.ascii_letters + string.digits + RESERVED_CHARS + MORE_CHARS, min_size=1, max_size=20
)
wide_params = st.dictionaries(keys, wide_values, max_size=6)
ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")
_SDK = HTTP(api_key="key", api_secret="secret")


def _pybit_sign(secret: str, key: str, ts: int, recv: int, payload: str) -> str:
    return str(pybit_http.generate_signature(False, secret, f"{ts}{key}{recv}{payload}"))


def _pybit_get(p: dict[str, str]) -> tuple[str, str]:
    """pybit's GET: the payload it signs and the query its transport sends."""
    payload = str(pybit_http._V5HTTPManager.prepare_payload("GET", dict(p)))
    sent = _SDK._prepare_request("GET", "https://api.bybit.com/v5/order/realtime", payload, {})
    return payload, str(sent.path_url).partition("?")[2]


@settings(max_examples=300, deadline=None)
@given(api_keys, secrets, wide_params, timestamps_ms, st.integers(min_value=1, max_value=60_000))
def test_get_with_reserved_characters(key: str, secret: str, p: dict[str, str], ts: int, recv: int) -> None:
    ours = BybitSigner(key, secret).sign("GET", "/v5/order/realtime", list(p.items()), ts, recv)
    headers = dict(ours.headers)
    payload, pybit_query = _pybit_get(p)
    # signed as pybit signs, over its payload; an independent hmac accepts it
    assert headers["X-BAPI-SIGN"] == _pybit_sign(secret, key, ts, recv, payload)
    assert hmac_sha256_hex(secret.encode(), f"{ts}{key}{recv}{unquote(ours.query)}", headers["X-BAPI-SIGN"])
    # what is sent decodes to exactly what was signed
    assert unquote(ours.query) == payload
    if unquote(pybit_query) == payload:
        assert ours.query == pybit_query  # pybit's request bytes, on every input it can sign
    else:  # pybit's own form does not carry what it signed: only a %XX escape or a `#` does that
        assert ESCAPE.search(payload) or "#" in payload, (payload, pybit_query)
    if all(c in string.ascii_letters + string.digits for v in p.values() for c in v):
        assert ours.query == payload


@settings(max_examples=300, deadline=None)
@given(api_keys, secrets, wide_params, timestamps_ms, st.integers(min_value=1, max_value=60_000))
def test_post_with_reserved_characters(key: str, secret: str, p: dict[str, str], ts: int, recv: int) -> None:
    ours = BybitSigner(key, secret).sign("POST", "/v5/order/create", list(p.items()), ts, recv)
    sdk_body = str(pybit_http._V5HTTPManager.prepare_payload("POST", dict(p)))
    assert ours.body == sdk_body.encode()  # pybit's bytes, empty POST ("{}") included
    assert json.loads(ours.body) == p
    body = ours.body.decode("utf-8")
    assert dict(ours.headers)["X-BAPI-SIGN"] == _pybit_sign(secret, key, ts, recv, body)
    assert BybitSigner(key, secret).signature(ts, recv, ours.body) == _pybit_sign(secret, key, ts, recv, body)


def test_signature_of_any_payload_bytes_matches_pybit() -> None:
    s = BybitSigner("key", "secret")
    for payload in ("", "{}", "a=x y+z/w:v%u&b=é€", '{"a": "\\u00e9"}', '{"a":"é"}'):
        assert s.signature(1658384314791, 5000, payload.encode()) == _pybit_sign(
            "secret", "key", 1658384314791, 5000, payload
        )


def test_the_request_shape_is_pybits() -> None:
    """Pinned examples: the query pybit's transport sends, pybit's JSON body, `{}` for an empty POST; and
    the two inputs where pybit's own request cannot be verified (so ours encodes `%` and `#`)."""
    s = BybitSigner("key", "secret")
    p = {"a": "x y+z/w:v%u", "b": "é"}
    get = s.sign("GET", "/v5/order/realtime", list(p.items()), 1, 5000)
    assert get.query == "a=x%20y+z/w:v%25u&b=%C3%A9" == _pybit_get(p)[1]
    assert dict(get.headers)["X-BAPI-SIGN"] == _pybit_sign("secret", "key", 1, 5000, "a=x y+z/w:v%u&b=é")
    post = s.sign("POST", "/v5/order/create", list(p.items()), 1, 5000)
    assert post.body == b'{"a": "x y+z/w:v%u", "b": "\\u00e9"}'
    empty = s.sign("POST", "/v5/order/cancel-all", [], 1, 5000)
    assert empty.body == b"{}"  # pybit sends and signs "{}"
    assert dict(empty.headers)["X-BAPI-SIGN"] == _pybit_sign("secret", "key", 1, 5000, "{}")
    for value, pybit_sent, ours_sent in (("%41", "a=A", "a=%2541"), ("x#y", "a=x", "a=x%23y")):
        payload, sent = _pybit_get({"a": value})
        assert sent == pybit_sent, "pybit's transport changes what it signed"
        assert unquote(sent) != payload
        q = s.sign("GET", "/v5/order/realtime", [("a", value)], 1, 5000).query
        assert q == ours_sent
        assert unquote(q) == payload


def test_the_simulator_accepts_both_and_refuses_pybits_unsendable_form() -> None:
    """End to end against the simulator (which percent-decodes the query it received before checking the
    signature): reserved characters pass for pybit and for us; a `#` fails for pybit alone (10004)."""
    import urllib.request

    from trader.clock import LiveClock
    from trader.sim.bybit import DEMO_KEY, DEMO_SECRET, BybitSimServer
    from trader.sim.server import SimThread

    sim = SimThread(BybitSimServer(seed=2))
    try:
        sdk = HTTP(api_key=DEMO_KEY, api_secret=DEMO_SECRET, max_retries=1)
        sdk.endpoint = f"http://127.0.0.1:{sim.port}"
        signer = BybitSigner(DEMO_KEY, DEMO_SECRET)
        for link, pybit_ok in (("a b+c/d:é%u", True), ("x#y", False)):
            params = [("category", "spot"), ("orderLinkId", link), ("symbol", "BTCUSDT")]
            try:
                code = sdk.get_open_orders(**dict(params))["retCode"]
            except Exception as e:  # pybit raises for a non-zero retCode
                code = getattr(e, "status_code", -1)
            assert code == (0 if pybit_ok else 10004), (link, code)
            req = signer.sign("GET", "/v5/order/realtime", params, LiveClock().now_ns() // 1_000_000, 5000)
            url = f"http://127.0.0.1:{sim.port}/v5/order/realtime?{req.query}"
            with urllib.request.urlopen(urllib.request.Request(url, headers=dict(req.headers))) as r:
                assert json.loads(r.read())["retCode"] == 0, link
    finally:
        sim.close()
