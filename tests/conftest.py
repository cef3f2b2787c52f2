import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings

# `make test` (and CI) runs every property test on the same derived examples, so a pass or a failure is
# reproducible and CI does not go red by chance; `make fuzz` searches afresh with more examples, and what
# it finds becomes an explicit case.
settings.register_profile("ci", derandomize=True, print_blob=True)
settings.register_profile("fuzz", max_examples=2_000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

VECTORS = Path(__file__).parent / "vectors"


def load_vector(name: str) -> Any:
    return json.loads((VECTORS / name).read_text())


@pytest.fixture
def vectors() -> Path:
    return VECTORS


@pytest.fixture(autouse=True, scope="module")
def close_event_loops_left_by_sdks() -> Iterator[None]:
    """python-binance creates and installs an event loop when there is none and never closes it; close
    whatever loop a module's tests left installed, so it is not garbage-collected open later."""
    yield
    import asyncio
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            loop = asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            return
    if not loop.is_running():
        loop.close()
    asyncio.set_event_loop(None)
