"""Each HTTP simulator's default fault paths (`/sim/faults` without `paths`) are order endpoints it
serves: a fault asked of it reaches its own orders, not another venue's."""

from __future__ import annotations

import re

import pytest
from aiohttp import web

from trader.clock import LiveClock
from trader.sim.server import VenueServer
from trader.venues import registry

HTTP_VENUES = [n for n in registry.PACKAGES if n not in ("ibkr", "sim")]


def _pattern(r: web.RouteDef) -> re.Pattern[str]:
    """`METHOD /path/{var}` as a regex over `METHOD /path/value`."""
    return re.compile(re.escape(f"{r.method} ") + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(r.path)))


@pytest.mark.parametrize("venue", HTTP_VENUES)
def test_default_fault_paths_are_routes_of_the_simulator(venue: str) -> None:
    server = registry.simulator(venue, seed=1, clock=LiveClock())  # not started
    assert isinstance(server, VenueServer)
    routes = [_pattern(r) for r in server.routes() if isinstance(r, web.RouteDef)]
    assert server.FAULT_PATHS
    assert server.faults.paths == server.FAULT_PATHS
    for path in server.FAULT_PATHS:
        assert any(p.fullmatch(path) for p in routes), f"{venue}: {path} is not a route of its simulator"
