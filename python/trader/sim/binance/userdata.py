"""User data: listen keys, listen tokens and the subscribers of every wallet's events.

One store and one event path for every market: a subscriber is a socket with how it wants events
wrapped (raw, `{"subscriptionId", "event"}` on the WebSocket API, `{"stream", "data"}` on a combined
futures stream) and, for futures, which event types it asked for. Spot and margin listen keys never
expire (the legacy streams); futures listen keys live 60 minutes unless kept alive, then
`listenKeyExpired` is sent. Margin listen tokens end with `eventStreamTerminated`.
"""

from __future__ import annotations

import base64
import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web

from trader.clock import Clock
from trader.sim.binance.errors import ApiError, illegal
from trader.sim.binance.state import FUTURES_WALLET, UserKey

LISTEN_KEY_TTL_MS = 60 * 60 * 1000
Send = Callable[[web.WebSocketResponse, bytes], None]
Event = dict[str, Any] | Callable[[], dict[str, Any]]


@dataclass(frozen=True)
class Subscriber:
    ws: web.WebSocketResponse
    sub_id: int | None = None  # WebSocket API subscription
    events: frozenset[str] | None = None  # futures `events=` filter
    stream: str = ""  # combined futures stream: the listen key

    def wrap(self, event: dict[str, Any]) -> dict[str, Any]:
        if self.sub_id is not None:
            return {"subscriptionId": self.sub_id, "event": event}
        return {"stream": self.stream, "data": event} if self.stream else event

    def wants(self, event: dict[str, Any]) -> bool:
        return self.events is None or event["e"] in self.events or event["e"] == "listenKeyExpired"


class UserData:
    def __init__(self, clock: Clock, seed: int, send: Send) -> None:
        self.clock, self.seed, self.send = clock, seed, send
        self.subs: dict[UserKey, set[Subscriber]] = {}
        self.listen_keys: dict[str, tuple[UserKey, int]] = {}  # listenKey -> (owner, expiry ms or 0)
        self.listen_tokens: dict[str, tuple[str, str, int]] = {}  # token -> (api key, wallet, expiry ms)
        self._token_subs: list[tuple[UserKey, Subscriber, int]] = []
        self.sub_ids = itertools.count(0)

    def now_ms(self) -> int:
        return self.clock.now_ns() // 1_000_000

    def emit(self, owner: UserKey, event: Event) -> None:
        """Send `event` to the owner's subscribers; a callable event is built only when someone listens."""
        subs = self.subs.get(owner)
        if not subs:
            return
        ev = event() if callable(event) else event
        for sub in list(subs):
            if sub.wants(ev):
                self.send(sub.ws, orjson.dumps(sub.wrap(ev)))

    def add(self, owner: UserKey, sub: Subscriber) -> None:
        self.subs.setdefault(owner, set()).add(sub)

    def discard(self, owner: UserKey, sub: Subscriber) -> None:
        self.subs.get(owner, set()).discard(sub)

    # ---- listen keys -------------------------------------------------------------------------------

    def owner(self, listen_key: str, wallet_kind: str) -> UserKey | None:
        """The owner of a live listen key: `wallet_kind` FUTURES for the futures streams, else spot/margin."""
        found = self.listen_keys.get(listen_key)
        if found is None:
            return None
        (key, wallet), expiry = found
        if (wallet == FUTURES_WALLET) != (wallet_kind == FUTURES_WALLET):
            return None
        if expiry and expiry <= self.now_ms():
            return None
        return key, wallet

    def listen_key(self, verb: str, key: str, wallet: str) -> dict[str, Any]:
        """POST (create or return), PUT (keep alive), DELETE (close) the listen key of a wallet."""
        if wallet != FUTURES_WALLET:  # the legacy spot/margin keys: permanent, PUT/DELETE answer {}
            return {"listenKey": self._permanent_key(key, wallet)} if verb == "POST" else {}
        now = self.now_ms()
        live = [lk for lk, (owner, exp) in self.listen_keys.items() if owner == (key, wallet) and exp > now]
        if verb == "POST":
            lk = live[0] if live else hashlib.sha256(f"fapi{key}{self.seed}{now}".encode()).hexdigest()
            self.listen_keys[lk] = ((key, wallet), now + LISTEN_KEY_TTL_MS)
            return {"listenKey": lk}
        if not live:
            raise ApiError(-1125, "This listenKey does not exist.")
        if verb == "PUT":
            self.listen_keys[live[0]] = ((key, wallet), now + LISTEN_KEY_TTL_MS)
            return {"listenKey": live[0]}
        for lk in live:
            del self.listen_keys[lk]
        return {}

    def _permanent_key(self, key: str, wallet: str) -> str:
        for lk, (owner, _) in self.listen_keys.items():
            if owner == (key, wallet):
                return lk
        lk = hashlib.sha256(f"{key}{wallet}{self.seed}".encode()).hexdigest()
        self.listen_keys[lk] = ((key, wallet), 0)
        return lk

    def expire_listen_keys(self) -> None:
        now = self.now_ms()
        for lk, (owner, expiry) in list(self.listen_keys.items()):
            if expiry and expiry <= now:
                del self.listen_keys[lk]
                self.emit(owner, {"e": "listenKeyExpired", "E": now, "listenKey": lk})

    # ---- listen tokens (margin, WebSocket API) ------------------------------------------------------

    def listen_token(self, key: str, wallet: str, params: dict[str, str]) -> dict[str, Any]:
        try:
            validity = int(params.get("validity", "86400000") or 86_400_000)
        except ValueError:
            raise illegal("validity") from None
        if not 0 < validity <= 86_400_000:
            raise illegal("validity")
        expiry = self.now_ms() + validity
        digest = hashlib.sha256(
            f"{key}{wallet}{expiry}{len(self.listen_tokens)}{self.seed}".encode()
        ).digest()
        token = base64.b64encode(digest + digest[:20]).decode().rstrip("=")
        self.listen_tokens[token] = (key, wallet, expiry)
        return {"token": token, "expirationTime": expiry}

    def subscribe_token(self, ws: web.WebSocketResponse, token: str) -> tuple[UserKey, Subscriber, int]:
        found = self.listen_tokens.get(token)
        if found is None or found[2] <= self.now_ms():
            raise ApiError(-1209, "Invalid listenToken.")
        key, wallet, expiry = found
        sub = Subscriber(ws, next(self.sub_ids))
        self.add((key, wallet), sub)
        self._token_subs.append(((key, wallet), sub, expiry))
        return (key, wallet), sub, expiry

    def expire_tokens(self) -> None:
        now = self.now_ms()
        for item in [x for x in self._token_subs if x[2] <= now]:
            owner, sub, _ = item
            self._token_subs.remove(item)
            self.discard(owner, sub)
            ev = {"subscriptionId": sub.sub_id, "event": {"e": "eventStreamTerminated", "E": now}}
            self.send(sub.ws, orjson.dumps(ev))
        for token, (_, _, expiry) in list(self.listen_tokens.items()):
            if expiry <= now:
                del self.listen_tokens[token]
