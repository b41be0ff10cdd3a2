"""Engines execute one chosen deployment: LiteLLM (embedded or remote) or OpenRouter."""
