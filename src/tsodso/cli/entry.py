"""The ``tsodso`` console entry: Ctrl-C at any moment (while Python starts the heavy
libraries, inside a command, between solves) ends the program with one line and exit
status 130, never a traceback; warnings are one line each.

It imports nothing heavy before the interrupt handler is in place (``tsodso/__init__`` is
lazy for this reason). Owns: ``main``. Must not: know any command.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType


class Interrupted(BaseException):
    """Raised by the SIGINT handler; a BaseException so that no ``except Exception`` (in
    tsodso, click or a library) can swallow it, while ``finally`` blocks still clean up."""


_interrupted = False


def _on_sigint(signum: int, frame: FrameType | None) -> None:
    global _interrupted
    _interrupted = True
    raise Interrupted


def _warning_line(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: object = None,
    line: str | None = None,
) -> None:
    sys.stderr.write(f"warning: {message}\n")


def _leave() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a second Ctrl-C while we leave
    sys.stderr.write("interrupted\n")
    sys.stderr.flush()
    raise SystemExit(130)


def main() -> None:
    """Run the command line; exit 130 with one line on an interrupt.

    An interrupt raised while a library runs Python code on its own behalf may come back
    wrapped in that library's error (pydantic-core turns it into a SchemaError): what ends
    the program after an interrupt is reported as the interrupt, whatever it became."""
    signal.signal(signal.SIGINT, _on_sigint)
    try:
        import warnings

        warnings.showwarning = _warning_line
        from tsodso.cli.main import app

        app()
    except BaseException:
        if _interrupted:
            _leave()
        raise
