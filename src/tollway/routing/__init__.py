"""Routing: the in-memory routing table, candidate ordering, circuit breaker, LiteLLM config."""
