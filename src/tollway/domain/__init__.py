"""Services: the rules. No FastAPI, no SQL.

"No SQL" precisely: services own their transactions, ``tollway.store.repositories`` owns
their queries. A domain module may open a session (``Database.session()``: what one
transaction holds is a rule), pass it on, and stage rows in it with ``add``, ``delete``
and ``flush``; every read and every statement is a repository function that takes that
session. No domain module imports sqlalchemy or sqlmodel (import-linter: "The domain
builds no SQL"); ``Session`` and ``ConstraintViolation`` come from ``tollway.store.db``,
and tests/domain/test_no_sql.py holds sessions to ``add``, ``delete`` and ``flush``.
"""
