"""What the suite reads about each venue: its capabilities (from the venue package's PROFILE) and its
traits, each lack with a reason."""

from __future__ import annotations

import pytest

from tests.conformance.harness import Harness, Need, Traits, lacks
from tests.conformance.venues import HARNESSES
from trader.venues.base import Capabilities


@pytest.mark.parametrize("h", HARNESSES, ids=[h.id for h in HARNESSES])
def test_the_profile_and_the_connector_state_the_same_capabilities(h: Harness) -> None:
    """The engine sees the connector's capabilities; the suite (and the registry) the profile's: they must
    agree on everything a conformance case depends on."""
    conn = h.unconnected()
    assert isinstance(conn.capabilities, Capabilities)
    profile = h.profile()
    assert profile.name == h.venue
    ours, theirs = h.capabilities(), conn.capabilities
    assert ours.tier == theirs.tier
    fields = ("order_types", "time_in_force", "post_only", "cancel_all", "dead_man_switch")
    assert {f: getattr(ours, f) for f in fields} == {f: getattr(theirs, f) for f in fields}


@pytest.mark.parametrize("h", HARNESSES, ids=[h.id for h in HARNESSES])
def test_every_lack_has_a_reason(h: Harness) -> None:
    for need in Need:
        why = h.lacks(need)
        assert why == lacks(h.capabilities(), h.traits, need)
        assert why == "" or len(why) > 10


def test_a_venue_that_claims_everything_lacks_nothing() -> None:
    caps = Capabilities(
        venue="x",
        tier=HARNESSES[0].capabilities().tier,
        order_types=frozenset({"LIMIT", "MARKET"}),
        time_in_force=frozenset({"GTC", "IOC"}),
        post_only=True,
        reduce_only=True,
        cancel_all=True,
        dead_man_switch=True,
        ws_order_entry=True,
        max_batch=1,
        paper_environment=True,
        needs_credentials=True,
    )
    assert [n for n in Need if lacks(caps, Traits(), n)] == []
    bare = Capabilities(**{**caps.__dict__, "post_only": False, "order_types": frozenset({"LIMIT"})})
    assert {n for n in Need if lacks(bare, Traits(ban="no ban"), n)} == {
        Need.POST_ONLY,
        Need.MARKET,
        Need.BAN,
    }
