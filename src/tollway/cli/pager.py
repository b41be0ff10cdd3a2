"""Long output through a pager, the way git does it.

Only when stdout is a terminal (never into a pipe, a file or ``--json``): the text goes
to ``$PAGER``, or to ``less`` when PAGER is unset, with ``LESS=FRX`` unless LESS is set
(F: quit when it fits on one screen, R: keep the colours, X: leave it on the screen).
An empty PAGER or ``cat`` means no pager, as in git. A pager that cannot start is
skipped and the text printed as usual.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys

DEFAULT_PAGER = "less"
DEFAULT_LESS = "FRX"


def stdout_is_terminal() -> bool:
    # Not rich's Console.is_terminal: FORCE_COLOR makes that true for a pipe too.
    try:
        return sys.stdout.isatty()
    except (AttributeError, ValueError):  # a replaced or closed stream
        return False


def pager_command() -> list[str] | None:
    """The pager to run, or None for none (unset PAGER means less, if installed)."""
    configured = os.environ.get("PAGER", DEFAULT_PAGER).strip()
    try:
        argv = shlex.split(configured)
    except ValueError:
        return None
    if not argv or argv == ["cat"] or shutil.which(argv[0]) is None:
        return None
    return argv


def page(text: str) -> bool:
    """Show ``text`` through the pager; False when there is none (print it instead)."""
    argv = pager_command()
    if argv is None:
        return False
    environment = dict(os.environ)
    environment.setdefault("LESS", DEFAULT_LESS)
    try:
        # The user's own PAGER, split like a shell would, run without one.
        process = subprocess.Popen(argv, stdin=subprocess.PIPE, env=environment)  # noqa: S603
    except OSError:
        return False
    assert process.stdin is not None  # stdin=PIPE
    try:
        process.stdin.write(text.encode(sys.stdout.encoding or "utf-8", errors="replace"))
        process.stdin.close()
    except BrokenPipeError:
        pass  # quit before reading it all: that is the reader's choice, not an error
    _wait(process)
    return True


def _wait(process: subprocess.Popen[bytes]) -> None:
    # Ctrl-C belongs to the pager (less uses it to stop a search), as in git.
    while True:
        try:
            process.wait()
            return
        except KeyboardInterrupt:
            continue
