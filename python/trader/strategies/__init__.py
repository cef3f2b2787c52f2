"""Strategies: pure decision code. They see market data and their own orders and return intents;
they cannot reach a connector, so every order goes through the risk gate."""
