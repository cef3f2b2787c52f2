"""Exchange-in-a-box: simulated venues for tests and for rehearsing offline (`--sim`).

Matching is pure Python and independent of `trader._core`, so a simulator can check the core rather
than agree with it by construction. The HTTP/WebSocket servers and per-venue simulators arrive with
the engine and venue issues; `matching` and `market` are the base they build on.
"""
