import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

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
