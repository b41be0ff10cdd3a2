"""Services: the rules. No FastAPI, no SQL."""
