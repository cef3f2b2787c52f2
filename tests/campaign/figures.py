"""Figures the process-level tests hand to `make campaign`: each test that measures something writes it
as `<name>.json` into the directory named by `TRADER_CAMPAIGN_OUT` (nothing is written when it is unset,
as in `make test`). The campaign's runner (`python -m tests.campaign`) reads them into its table."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

ENV = "TRADER_CAMPAIGN_OUT"


def record(name: str, figures: dict[str, Any]) -> None:
    out = os.environ.get(ENV)
    if not out:
        return
    Path(out).mkdir(parents=True, exist_ok=True)
    (Path(out) / f"{name}.json").write_text(json.dumps(figures, indent=1, sort_keys=True) + "\n")


def read(directory: Path, name: str) -> dict[str, Any] | None:
    path = directory / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data
