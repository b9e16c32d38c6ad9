"""What the actors of a model send each other, as plain records: the facts of a protocol
(aggregators offer these bids to this operator; this operator activates these quantities;
the DSO shares this feeder's model), not messages. ``exchange.build`` turns them into the
message log (one message per aggregator, per period, with payloads and sizes), so that a
family states what information flows and never formats or sizes a message.

Owns: the exchange records and ``Protocol``, the recorder a family fills in order.
Must not: build payloads of the scenario's tables or size anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tsodso.schema.tables import BidTable

ALL_PERIODS = -1


@dataclass(frozen=True)
class BidsSent:
    """Each aggregator sends ``receiver`` its bids among ``bids`` for the day."""

    step: str
    receiver: str
    bids: BidTable


@dataclass(frozen=True)
class ActivationsSent:
    """Per period, ``sender`` tells each aggregator its accepted quantities."""

    step: str
    sender: str
    bids: BidTable
    accepted_mw: np.ndarray


@dataclass(frozen=True)
class SchedulesSent:
    """The TSO sends each DSO the TDI import (T,) it must hold, per feeder position."""

    step: str
    sender: str
    receiver: str
    import_mw: Mapping[int, np.ndarray]


@dataclass(frozen=True)
class NetworkModelSent:
    """A grid model shared with another party: a feeder's (``feeder`` = its position) or,
    with ``feeder`` None, the transmission grid's."""

    step: str
    sender: str
    receiver: str
    feeder: int | None


@dataclass(frozen=True)
class DataSent:
    """Any other message: its kind and its content (arrays and numbers)."""

    step: str
    sender: str
    receiver: str
    kind: str
    payload: Mapping[str, Any]
    period: int = ALL_PERIODS


Exchange = BidsSent | ActivationsSent | SchedulesSent | NetworkModelSent | DataSent


@dataclass
class Protocol:
    """The exchanges of one model run, in the order they happen."""

    events: list[Exchange] = field(default_factory=list)

    def bids(self, step: str, bids: BidTable, receiver: str) -> None:
        """Aggregators offer ``bids`` to ``receiver``."""
        self.events.append(BidsSent(step, receiver, bids))

    def activations(self, step: str, bids: BidTable, accepted_mw: np.ndarray, sender: str) -> None:
        """``sender`` activates ``accepted_mw`` of ``bids``."""
        self.events.append(ActivationsSent(step, sender, bids, accepted_mw))

    def schedules(
        self, step: str, import_mw: Mapping[int, np.ndarray], sender: str, receiver: str
    ) -> None:
        """``sender`` sets each feeder's TDI import schedule."""
        self.events.append(SchedulesSent(step, sender, receiver, dict(import_mw)))

    def network_model(self, step: str, sender: str, receiver: str, feeder: int | None) -> None:
        """``sender`` shares a feeder's model (or, with None, the transmission grid's)."""
        self.events.append(NetworkModelSent(step, sender, receiver, feeder))

    def data(
        self,
        step: str,
        sender: str,
        receiver: str,
        kind: str,
        payload: Mapping[str, Any],
        period: int = ALL_PERIODS,
    ) -> None:
        """Any other message."""
        self.events.append(DataSent(step, sender, receiver, kind, payload, period))

    def extend(self, other: Protocol) -> None:
        """Append another protocol's exchanges."""
        self.events.extend(other.events)

    def frozen(self) -> tuple[Exchange, ...]:
        """The exchanges so far, as an immutable tuple."""
        return tuple(self.events)
