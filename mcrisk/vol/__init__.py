"""Implied volatility, option quotes and smile surfaces."""
