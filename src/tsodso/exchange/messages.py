"""The actor message log: every message between actors in a run (sender, receiver, kind,
payload size, period). The data-exchange KPIs and sequence diagrams are read from it.

Owns: message records and payload sizing (compact JSON of the columnar payload).
Must not: decide which messages a model sends (coordination does).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

TSO, DSO, MO = "TSO", "DSO", "MO"
ALL_PERIODS = -1


def payload_bytes(payload: dict[str, Any]) -> int:
    """Size of a payload as compact JSON (numpy arrays as lists, floats to 4 decimals)."""

    def conv(v: Any) -> Any:
        if isinstance(v, np.ndarray):
            if v.dtype.kind == "f":
                return np.round(v, 4).tolist()
            return v.tolist()
        if isinstance(v, np.generic):
            return v.item()
        return v

    return len(json.dumps({k: conv(v) for k, v in payload.items()}, separators=(",", ":")))


@dataclass
class MessageLog:
    """Append-only log; one row per message."""

    rows: list[tuple[str, str, str, str, int, int]] = field(default_factory=list)

    def send(
        self,
        step: str,
        sender: str,
        receiver: str,
        kind: str,
        payload: dict[str, Any] | int,
        period: int = ALL_PERIODS,
    ) -> None:
        """Record one message; ``payload`` is the content or its size in bytes."""
        size = payload if isinstance(payload, int) else payload_bytes(payload)
        self.rows.append((step, sender, receiver, kind, int(period), int(size)))

    def extend(self, other: MessageLog) -> None:
        self.rows.extend(other.rows)

    @property
    def count(self) -> int:
        return len(self.rows)

    @property
    def total_bytes(self) -> int:
        return int(sum(r[5] for r in self.rows))

    def holders_of(self, kind: str, owner: str) -> int:
        """Number of parties holding data of ``kind``: the owner plus every receiver of it."""
        return len({owner} | {r[2] for r in self.rows if r[3] == kind})

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            self.rows, columns=["step", "sender", "receiver", "kind", "period", "bytes"]
        )
