"""The actor message log: every message between actors in a run (step, sender, receiver,
kind, period, payload and its size). The data-exchange KPIs and sequence diagrams are read
from it; renderings in the field's standards start from its payloads.

Owns: message records and payload sizing (compact JSON of the columnar payload).
Must not: decide which messages a model sends (``coordination.protocol`` records that,
``exchange.build`` turns it into messages).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

ALL_PERIODS = -1


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        if v.dtype.kind == "f":
            return np.round(v, 4).tolist()
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


#: ``json.dumps(x, separators=(",", ":"))`` with one encoder (dumps with separators builds
#: a new one per call: 1 us of every payload's sizing)
_compact = json.JSONEncoder(separators=(",", ":")).encode


def payload_json(payload: Mapping[str, Any]) -> str:
    """A payload as compact JSON (numpy arrays as lists, floats to 4 decimals; ASCII)."""
    return _compact({k: _plain(v) for k, v in payload.items()})


def payload_bytes(payload: Mapping[str, Any]) -> int:
    """Size of a payload as compact JSON (numpy arrays as lists, floats to 4 decimals)."""
    return len(payload_json(payload))


@dataclass(frozen=True)
class Message:
    """One message: who sent what to whom, when, with what content (``payload``) and how
    many bytes it takes as compact JSON."""

    step: str
    sender: str
    receiver: str
    kind: str
    period: int
    payload: Mapping[str, Any]
    bytes: int

    def plain_payload(self) -> dict[str, Any]:
        """The payload with arrays as lists (JSON-ready)."""
        return {k: _plain(v) for k, v in self.payload.items()}


@dataclass
class MessageLog:
    """Append-only log, one ``Message`` per message."""

    messages: list[Message] = field(default_factory=list)

    def send(
        self,
        step: str,
        sender: str,
        receiver: str,
        kind: str,
        payload: Mapping[str, Any],
        period: int = ALL_PERIODS,
    ) -> None:
        """Record one message."""
        self.messages.append(
            Message(step, sender, receiver, kind, int(period), payload, payload_bytes(payload))
        )

    def extend(self, other: MessageLog) -> None:
        """Append another log's messages."""
        self.messages.extend(other.messages)

    @property
    def count(self) -> int:
        """Number of messages."""
        return len(self.messages)

    @property
    def total_bytes(self) -> int:
        """Bytes of every message together."""
        return int(sum(m.bytes for m in self.messages))

    def holders_of(self, kind: str, owners: Iterable[str]) -> int:
        """Number of parties holding data of ``kind``: its owners (e.g. every DSO, for its
        own network) plus every receiver of it."""
        return len(set(owners) | {m.receiver for m in self.messages if m.kind == kind})

    def by_party(self) -> pd.DataFrame:
        """Messages and bytes each party sent and received (one row per party)."""
        rows: dict[str, list[int]] = {}
        for m in self.messages:
            rows.setdefault(m.sender, [0, 0, 0, 0])
            rows.setdefault(m.receiver, [0, 0, 0, 0])
            rows[m.sender][0] += 1
            rows[m.sender][1] += m.bytes
            rows[m.receiver][2] += 1
            rows[m.receiver][3] += m.bytes
        return pd.DataFrame(
            [(p, *v) for p, v in rows.items()],
            columns=["party", "sent", "sent_bytes", "received", "received_bytes"],
        )

    def table(self) -> pd.DataFrame:
        """One row per message: step, sender, receiver, kind, period, bytes."""
        return pd.DataFrame(
            [(m.step, m.sender, m.receiver, m.kind, m.period, m.bytes) for m in self.messages],
            columns=["step", "sender", "receiver", "kind", "period", "bytes"],
        )
