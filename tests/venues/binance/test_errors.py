"""Binance's error bodies (recorded) through its code table and the shared classifier, and the one
status reading (`_http.status_error`) HTTP and WebSocket API answers share."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from trader.errors import (
    AuthenticationError,
    BannedError,
    InsufficientFundsError,
    InvalidOrderError,
    OrderNotFoundError,
    RateLimitError,
    UnknownOutcomeError,
    VenueError,
    VenueUnavailableError,
)
from trader.venues._http import HttpResponse, status_error
from trader.venues.binance import decode_error, error_from
from trader.venues.binance.errors import TABLE

ERRORS: dict[str, Any] = json.loads((Path(__file__).parent / "fixtures" / "errors.json").read_text())


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("insufficient_balance", InsufficientFundsError),
        ("would_take", InvalidOrderError),  # -2010 without the balance message: a plain reject
        ("unknown_order", OrderNotFoundError),
        ("timestamp", AuthenticationError),
        ("filter", InvalidOrderError),
        ("margin_insufficient", InsufficientFundsError),
        ("backend_timeout", UnknownOutcomeError),
    ],
)
def test_recorded_error_bodies(name: str, cls: type[VenueError]) -> None:
    body = ERRORS[name]
    e = error_from("binance", body["code"], body["msg"])
    assert type(e) is cls
    assert (e.venue, e.code) == ("binance", str(body["code"]))
    resp = HttpResponse(400, {}, json.dumps(body).encode(), 0)
    decoded = decode_error("binance", resp)
    assert type(decoded) is cls
    assert decoded is not None
    assert decoded.code == str(body["code"])


def test_every_listed_code() -> None:
    expect = {
        AuthenticationError: (-1021, -1022, -2014, -2015, -1002, -1099),
        OrderNotFoundError: (-2011, -2013),
        RateLimitError: (-1003, -1015),
        UnknownOutcomeError: (-1006, -1007),
        VenueUnavailableError: (-1001, -1008),
        InvalidOrderError: (-1013, -1121, -2010, -4164, -5022),
    }
    for cls, codes in expect.items():
        for c in codes:
            assert type(error_from("sim", c, "x")) is cls, c
    assert TABLE.default is InvalidOrderError


def test_messages_are_cut_and_non_json_bodies_are_not_errors() -> None:
    assert len(str(error_from("binance", -1013, "y" * 500))) < 260
    assert decode_error("binance", HttpResponse(502, {}, ERRORS["not_an_error"].encode(), 0)) is None
    assert decode_error("binance", HttpResponse(400, {}, b'{"code": "x", "msg": 1}', 0)) is None


def test_one_status_reading_for_http_and_ws_api() -> None:
    banned = status_error("binance", "order.place", 418, mutating=True, retry_after_ns=5)
    limited = status_error("binance", "GET /api/v3/depth", 429, mutating=False, retry_after_ns=6)
    assert isinstance(banned, BannedError)
    assert (banned.code, banned.retry_after_ns) == ("418", 5)
    assert isinstance(limited, RateLimitError)
    assert (limited.code, limited.retry_after_ns) == ("429", 6)
    unknown = status_error("binance", "order.place", 503, mutating=True, transport="status")
    assert isinstance(unknown, UnknownOutcomeError)
    assert "status 503" in str(unknown)
    assert isinstance(status_error("binance", "GET /x", 500, mutating=False), VenueUnavailableError)
    assert status_error("binance", "POST /x", 400, mutating=True) is None  # the venue's body decides
