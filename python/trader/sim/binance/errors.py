"""Binance's error bodies: `{"code": <negative int>, "msg": "..."}` with an HTTP status (400 unless
said), and the messages the simulator sends more than once."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, code: int, msg: str, status: int = 400, retry_after: int = 0) -> None:
        super().__init__(msg)
        self.code, self.msg, self.status, self.retry_after = code, msg, status, retry_after


def mandatory(name: str) -> ApiError:
    return ApiError(-1102, f"Mandatory parameter '{name}' was not sent, was empty/null, or malformed.")


def illegal(name: str) -> ApiError:
    return ApiError(-1100, f"Illegal characters found in parameter '{name}'.")


def invalid_symbol() -> ApiError:
    return ApiError(-1121, "Invalid symbol.")


def invalid_key() -> ApiError:
    return ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)


def no_such_order() -> ApiError:
    return ApiError(-2013, "Order does not exist.")


def unknown_order() -> ApiError:
    return ApiError(-2011, "Unknown order sent.")


def insufficient_balance() -> ApiError:
    return ApiError(-2010, "Account has insufficient balance for requested action.")


def too_many_orders(limit: int, interval: str) -> ApiError:
    return ApiError(-1015, f"Too many new orders; current limit is {limit} orders per {interval}.", 429)


def require(params: dict[str, str], name: str) -> str:
    """A mandatory parameter (-1102 when absent or empty)."""
    v = params.get(name)
    if not v:
        raise mandatory(name)
    return v
