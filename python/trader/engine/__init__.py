"""The engine: order state machine (`oms`) and the write-ahead journal (`journal`).

The event loop, portfolio and reconciliation arrive with the rest of the engine issue.
"""
