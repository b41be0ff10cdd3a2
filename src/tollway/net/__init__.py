"""Outbound HTTP safety: which addresses tollway may connect to, checked at connect time."""
