"""tollway: a self-hosted control plane for LLM traffic."""

__version__ = "0.1.0"
