"""The command line's part of the message standards: the ``--standard`` option, the line
that names a run's encodings and sizes, and the archives ``tsodso run --out`` writes (an
edge: it imports the core).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

from tsodso.exchange.standards import STANDARDS, label_of
from tsodso.exchange.standards.archive import write_archives

STANDARD_HELP = (
    "encoding of the messages: 'region' (the model's region: EU/GB uftp, AU csip-aus, "
    f"NA openadr3) or one of {', '.join(STANDARDS)}"
)


def check_standard(name: str) -> str:
    """A standard's name, or a usage error listing the valid ones."""
    if name not in STANDARDS:
        raise typer.BadParameter(
            f"unknown standard {name!r}; expected 'region' or one of {', '.join(STANDARDS)}",
            param_hint="--standard",
        )
    return name


def encoding_of(kpis: Mapping[str, Any]) -> str:
    """The standard a run's message bytes were measured in (``json`` when only JSON)."""
    used = [
        k.removeprefix("message_bytes_").replace("_", "-")
        for k in kpis
        if k.startswith("message_bytes_") and k not in ("message_bytes_log_json",)
    ]
    named = [u for u in used if u != "json"]
    return named[0] if named else "json"


def messages_line(result: Any) -> str:
    """One line: how many messages, and their bytes per encoding as rendered."""
    enc = result.encoded.bytes_by_encoding()
    parts = ", ".join(f"{label_of(e)} {b / 1000:,.1f} kB" for e, b in sorted(enc.items()))
    return (
        f"[bold]messages[/]: {result.kpis['messages']} in {result.standard} ({parts}); "
        f"as the log's compact JSON {result.kpis['message_bytes_log_json'] / 1000:,.1f} kB"
    )


def write_messages(result: Any, out_dir: Path) -> list[Path]:
    """The run's messages rendered in its standard: one zip per encoding."""
    return write_archives(result.rendered(), out_dir)
