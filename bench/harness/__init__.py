"""Parts of bench/gateways.py: canned upstream, wrk, /proc accounting, gateways, ratios."""
