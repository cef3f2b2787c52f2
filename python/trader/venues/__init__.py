"""Venue connectors: one module per venue, all implementing `trader.venues.base.Connector`."""
