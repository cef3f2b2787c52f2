"""Where the venue listens: base URLs per environment, paths, weights and quotas. Constants only."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Endpoints:
    rest: str
    stream: str

    @staticmethod
    def loopback(url: str) -> Endpoints:
        """The local simulator at `url` (http://127.0.0.1:PORT) serves REST and streams on one port."""
        base = url.rstrip("/")
        return Endpoints(base, base.replace("http", "ws", 1) + "/ws")


ENDPOINTS = {
    "live": Endpoints("https://api.example.com", "wss://stream.example.com/ws"),
    "paper": Endpoints("https://sandbox.example.com", "wss://sandbox-stream.example.com/ws"),
}

# path -> request weight, as the venue documents it
WEIGHTS = {"GET /time": 1, "POST /orders": 1, "DELETE /orders": 1}
