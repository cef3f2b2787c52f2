"""OKX v5 signing against python-okx (the oracle)."""

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from okx import utils as okx_utils
from okx.websocket import WsUtils

from tests.sign.strategies import api_keys, params, secrets, timestamps_ms
from trader.core import OkxSigner


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat("T", "milliseconds").replace("+00:00", "Z")


@settings(max_examples=200, deadline=None)
@given(api_keys, secrets, secrets, params, timestamps_ms, st.sampled_from(["GET", "POST"]), st.booleans())
def test_matches_python_okx(
    key: str, secret: str, passphrase: str, p: dict[str, str], ts: int, method: str, simulated: bool
) -> None:
    ours = OkxSigner(key, secret, passphrase, simulated=simulated).sign(
        method, "/api/v5/trade/order", list(p.items()), ts
    )
    timestamp = _iso(ts)
    if method == "GET":
        target = "/api/v5/trade/order" + okx_utils.parse_params_to_str(p)
        body = ""
        assert ours.target == target
    else:
        target = "/api/v5/trade/order"
        body = ours.body.decode()
        assert json.loads(body or "{}") == p
    sdk_sign = okx_utils.sign(okx_utils.pre_hash(timestamp, method, target, body, debug=False), secret)
    sdk_headers = okx_utils.get_header(
        key, sdk_sign, timestamp, passphrase, "1" if simulated else "0", debug=False
    )
    assert dict(ours.headers) == {
        k: v.decode() if isinstance(v, bytes) else v for k, v in sdk_headers.items()
    }


@settings(max_examples=100, deadline=None)
@given(api_keys, secrets, secrets, st.integers(min_value=1_500_000_000, max_value=4_000_000_000))
def test_ws_login_matches_python_okx(key: str, secret: str, passphrase: str, ts: int) -> None:
    api_key, pp, timestamp, sign = OkxSigner(key, secret, passphrase).ws_login(ts)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(WsUtils, "getLocalTime", lambda: ts)
        sdk_sign = WsUtils.initLoginParams(False, key, passphrase, secret)
    assert (api_key, pp, timestamp) == (key, passphrase, str(ts))
    assert json.loads(sdk_sign)["args"][0]["sign"] == sign
