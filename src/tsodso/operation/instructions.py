"""How a real-time instruction travels, and what its receiver does when a hop is lost.

An operator's instruction (an emergency curtailment, a DSO's own redispatch, an envelope
update, an override) reaches an aggregator along the route its model's protocol gives
(``schema.operating``): the TSO directly, through the area's DSO, or through the market
operator's platform. Every hop is a message in the log. A ``message_loss`` event drops the
hops from its sender to its receiver in its periods: the hop is logged with
``(lost)`` after its kind and nothing is forwarded from it; what the receiver then does is
the protocol's ``on_lost_message``: ``no_action`` (the instruction is not executed),
``hold_last`` (it repeats the last instruction it received of that kind for each DER and
direction, within what is left of each bid) or, for envelope updates only,
``fallback_envelope`` (the DERs fall back to their default envelope: the whole candidate
range tightened). Owns: routes, hops, losses and their handling. Must not: decide what
to instruct (``operation.contingency``, ``operation.red_light``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from tsodso.dispatch.stacking import EPS
from tsodso.exchange.messages import MessageLog
from tsodso.grids.outage import event_periods
from tsodso.scenario.domain import Scenario
from tsodso.schema.actors import MO, TSO, role
from tsodso.schema.operating import OperatingProtocol, Route

LOST_COLUMNS = [
    "period",
    "sender",
    "receiver",
    "kind",
    "der",
    "ordered_mw",
    "executed_mw",
    "handling",
]


@dataclass(frozen=True)
class Loss:
    """One ``message_loss`` event: hops from ``sender`` to ``receiver`` ('' = any) in the
    periods where ``on`` is set are lost. Each is a role ('TSO', 'DSO', 'MO') or a name."""

    sender: str
    receiver: str
    on: np.ndarray  # (T,) bool

    def drops(self, sender: str, receiver: str, period: int) -> bool:
        """Whether this loss drops the hop ``sender`` -> ``receiver`` in ``period``."""
        return (
            bool(self.on[period])
            and self.sender in (sender, role(sender))
            and (not self.receiver or self.receiver in (receiver, role(receiver)))
        )


def losses_of(scn: Scenario) -> tuple[Loss, ...]:
    """The message-loss events of a scenario."""
    return tuple(
        Loss(e.sender, e.receiver, event_periods(e, scn.periods))
        for e in scn.config.events
        if e.kind == "message_loss"
    )


Hops = Callable[[str | None, str], list[tuple[str, str]]]


def tso_route(path: Route) -> Hops:
    """The hops of a TSO instruction to an aggregator, given the DSO of the DER's area
    (None for transmission-connected DERs) and the aggregator."""

    def hops(dso: str | None, aggregator: str) -> list[tuple[str, str]]:
        if path == "via_dso" and dso is not None:
            return [(TSO, dso), (dso, aggregator)]
        if path == "platform":
            return [(TSO, MO), (MO, aggregator)]
        return [(TSO, aggregator)]

    return hops


def dso_route(through_platform: bool) -> Hops:
    """The hops of a DSO's own instruction: to the aggregator, or (envelopes, which the
    platform applies) to the market operator and on to the aggregator."""

    def hops(dso: str | None, aggregator: str) -> list[tuple[str, str]]:
        assert dso is not None  # a DSO instructs only DERs of its own area
        return [(dso, MO), (MO, aggregator)] if through_platform else [(dso, aggregator)]

    return hops


@dataclass
class Courier:
    """Sends a run's real-time instructions hop by hop, applies the losses and records
    what each lost instruction became (``lost`` rows, ``LOST_COLUMNS``)."""

    scn: Scenario
    protocol: OperatingProtocol
    losses: tuple[Loss, ...]
    log: MessageLog
    rows: list[dict[str, object]]
    last: dict[tuple[str, int, int], float]  # (kind, der, direction) -> last received MW

    @classmethod
    def of(cls, scn: Scenario, protocol: OperatingProtocol, log: MessageLog) -> Courier:
        """A courier for one run's contingency step."""
        return cls(scn, protocol, losses_of(scn), log, [], {})

    def lost_hop(self, sender: str, receiver: str, period: int) -> bool:
        """Whether the hop ``sender`` -> ``receiver`` is lost in ``period``."""
        return any(x.drops(sender, receiver, period) for x in self.losses)

    def send(
        self,
        kind: str,
        hops: list[tuple[str, str]],
        payload: dict[str, object],
        period: int,
    ) -> tuple[str, str] | None:
        """Send one instruction along ``hops``: each hop a message, none after a lost one.
        Returns the lost hop (None when the instruction arrived)."""
        for s, r in hops:
            if self.lost_hop(s, r, period):
                self.log.send("contingency", s, r, f"{kind} (lost)", payload, period=period)
                return s, r
            self.log.send("contingency", s, r, kind, payload, period=period)
        return None

    def instruct(
        self,
        kind: str,
        ordered: np.ndarray,
        cap: np.ndarray,
        hops: Hops,
        fallback: np.ndarray | None = None,
    ) -> np.ndarray:
        """Send ``ordered`` (MW per bid of ``scn.bids``) to each aggregator per period and
        DSO area along ``hops``; returns what is executed per bid after the losses and
        their handling. ``cap`` (per bid) bounds a held instruction; ``fallback`` (per
        bid) is the default envelope (envelope updates)."""
        b, scn = self.scn.bids, self.scn
        area = scn.dsos.node_area(scn.grid)[b.node]
        out = ordered.copy()
        sent = ordered > EPS
        for t in range(scn.periods):
            now = b.period == t
            # one message per route (an aggregator's DERs of several areas share a route
            # unless it passes their DSOs)
            groups: dict[tuple[tuple[str, str], ...], np.ndarray] = {}
            for k, a in {
                (int(k), int(a))
                for k, a in zip(area[now & sent], b.aggregator[now & sent], strict=True)
            }:
                dso = scn.dsos.names[k] if k >= 0 else None
                key = tuple(hops(dso, scn.aggregator_names[a]))
                m = now & (area == k) & (b.aggregator == a)
                groups[key] = groups[key] | m if key in groups else m
            for key in sorted(groups):
                m = groups[key]
                payload = {"der": scn.ders.id[b.der[m & sent]], "mw": ordered[m & sent]}
                lost = self.send(kind, list(key), payload, t)
                if lost is not None:
                    out[m] = self._handle(kind, m, cap, fallback)
                    self._record(t, lost, kind, m, ordered, out)
            for i in np.flatnonzero(now & (out > EPS)):
                self.last[(kind, int(b.der[i]), int(b.direction[i]))] = float(out[i])
        return out

    def _handle(
        self,
        kind: str,
        m: np.ndarray,
        cap: np.ndarray,
        fallback: np.ndarray | None,
    ) -> np.ndarray:
        """What the receiver of a lost instruction executes for the bids ``m``."""
        b = self.scn.bids
        how = self.protocol.on_lost_message
        if how == "fallback_envelope" and fallback is not None:
            out: np.ndarray = fallback[m]
            return out
        if how == "hold_last":
            held = np.array(
                [
                    self.last.get((kind, int(d), int(s)), 0.0)
                    for d, s in zip(b.der[m], b.direction[m], strict=True)
                ]
            )
            kept: np.ndarray = np.minimum(held, cap[m])
            return kept
        return np.zeros(int(m.sum()))

    def _record(
        self,
        t: int,
        hop: tuple[str, str],
        kind: str,
        m: np.ndarray,
        ordered: np.ndarray,
        out: np.ndarray,
    ) -> None:
        b = self.scn.bids
        how = self.protocol.on_lost_message
        if how == "fallback_envelope" and not kind.startswith("envelope"):
            how = "no_action"
        for i in np.flatnonzero(m & ((ordered > EPS) | (out > EPS))):
            self.rows.append(
                {
                    "period": t,
                    "sender": hop[0],
                    "receiver": hop[1],
                    "kind": kind,
                    "der": str(self.scn.ders.id[b.der[i]]),
                    "ordered_mw": float(ordered[i]),
                    "executed_mw": float(out[i]),
                    "handling": how,
                }
            )

    def table(self) -> pd.DataFrame:
        """Every lost instruction per bid: what was ordered and what was executed."""
        return pd.DataFrame(self.rows, columns=LOST_COLUMNS)
