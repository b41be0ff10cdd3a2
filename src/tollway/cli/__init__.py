"""The ``tollway`` command: local commands (serve, db) and a client of the admin API."""
