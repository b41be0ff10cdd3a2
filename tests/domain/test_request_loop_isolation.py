"""The domain tier stays what it claims to be: the data plane's rules with no LiteLLM,
no HTTP server and no network, fast."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Builds a plane and serves a request and a stream, in a fresh interpreter (this one
# has imported whatever other tests needed).
_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys, tempfile
    from pathlib import Path

    from tests.domain.conftest import build_plane
    from tests.domain.tables import caller, deployment, group, table

    async def main() -> None:
        with tempfile.TemporaryDirectory() as directory:
            routes = table(group(deployment("a", "500"), deployment("b")))
            plane = build_plane(Path(directory), routes)
            await plane.complete(caller(), "chat")
            outcome = await plane.stream(caller(), "chat")
            _ = [chunk async for chunk in outcome.value]
            await outcome.value.close(disconnected=False)
            assert len(plane.journaled().completed) == 2
            await plane.aclose()

    asyncio.run(main())
    loaded = sorted(name for name in sys.modules if name.split(".")[0] in ("litellm", "uvicorn"))
    print(",".join(loaded))
    """
)


def test_building_and_using_the_plane_never_imports_litellm_or_a_server() -> None:
    run = subprocess.run(
        [sys.executable, "-c", _SCRIPT],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""
