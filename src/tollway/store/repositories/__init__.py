"""Every query the services run, one module per aggregate.

Functions take the caller's ``Session``: the service opens it, so the service decides
what one transaction holds, and the repository decides how rows are found. Services
stage rows in that session (``add``, ``delete``, ``flush``) but build no statement.
"""
