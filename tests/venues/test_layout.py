"""Every venue has the same shape (issue 12, STYLE 6): the fixed file set, the package contract, a simulator
package, and recorded fixtures for its parsers."""

from __future__ import annotations

from pathlib import Path

import pytest

import trader
from trader.venues import registry
from trader.venues.profile import VenueProfile

ROOT = Path(trader.__file__).parent
REQUIRED = {"__init__.py", "endpoints.py", "errors.py", "parse.py", "connector.py"}
SIMULATED_BY = {"sim": "binance"}  # the built-in venue is served by the Binance protocol's simulator


@pytest.mark.parametrize("name", [*registry.PACKAGES, "_template"])
def test_every_venue_package_has_the_fixed_file_set(name: str) -> None:
    files = {p.name for p in (ROOT / "venues" / name).glob("*.py")}
    assert files >= REQUIRED, f"venues/{name} lacks {sorted(REQUIRED - files)}"


@pytest.mark.parametrize("name", list(registry.PACKAGES))
def test_every_built_venue_exports_the_contract(name: str) -> None:
    pkg = registry.package(name)
    assert isinstance(pkg.PROFILE, VenueProfile)
    assert pkg.PROFILE.name == name
    assert pkg.PROFILE.built
    for fn in ("build", "loopback", "simulator"):
        assert callable(getattr(pkg, fn)), f"trader.venues.{name}.{fn}"


@pytest.mark.parametrize("name", list(registry.PACKAGES))
def test_every_built_venue_has_a_simulator_package_and_parse_fixtures(name: str) -> None:
    sim = SIMULATED_BY.get(name, name)
    assert {"__init__.py", "server.py"} <= {p.name for p in (ROOT / "sim" / sim).glob("*.py")}
    tests = Path(__file__).parent / name
    assert (tests / "test_parse.py").is_file()
    if name != "sim":  # the built-in venue parses the in-process engine's values, not wire payloads
        assert list((tests / "fixtures").iterdir()), f"tests/venues/{name}/fixtures is empty"


def test_planned_venues_are_listed_and_not_built() -> None:
    for name, prof in registry.PLANNED.items():
        assert not prof.built
        assert name not in registry.PACKAGES
        with pytest.raises(registry.NotBuiltError, match=f"no connector for {name} yet"):
            registry.package(name)
