"""The differential conformance suite: what a client receives through tollway against
what the upstream sent, and every answer against the published schemas."""
