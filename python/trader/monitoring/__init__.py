"""Monitoring of a running engine, attached through its one listener interface
(`trader.engine.observer`), never inside the engine's own code:

- `metrics`: the Prometheus endpoint (`--metrics-port`, `[monitoring]`); deploy/ has the Grafana
  dashboard and the alert rules;
- `alerts`: what must wake a person, to a webhook (`[alerts]`), rate-limited, never blocking;
- `logs`: JSON lines (`--log-json`), a level per component (`[logging]`), one event per order change;
- `samples` and `report`: the series the run report needs, sampled into the journal, and the HTML
  tearsheet (`trader report`, `trader paper --report`);
- `probe`: what all of them read of the engine, in one place; `session`: the monitor of one session.

Importing this package imports nothing heavy (prometheus_client and plotly load when used).
"""
