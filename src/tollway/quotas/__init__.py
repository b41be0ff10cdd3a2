"""Quotas: reservations against rate limits, token quotas and USD budgets."""
