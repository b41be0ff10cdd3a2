#!/bin/sh
# Regenerates catalog.md: issue 11's closing walk-through, run with the real tollway CLI
# against a real server and a fake OpenAI-compatible provider on 127.0.0.1 (no network,
# no secrets; tests/cli/test_catalog_walkthrough.py asserts the same steps).
set -eu
cd "$(dirname "$0")/../.."
.venv/bin/python -m tests.cli.catalog_walkthrough > docs/walkthroughs/catalog.md
echo "wrote docs/walkthroughs/catalog.md"
