"""Strategies: pure decision code. They see market data and their own orders and return intents;
they cannot reach a connector, so every order goes through the risk gate.

Single venue: `market_maker` (Avellaneda-Stoikov), `pairs` (stat-arb), `binary_mm`, `rewards` and
`event_driven` (prediction markets). Across venues (`legs`: units, fees, the orders out): `xarb`
(cross-exchange arbitrage, taker-taker and maker-taker) and `basis` (spot against a perpetual)."""
