"""Messages built from a model's outcome: the protocol records a family filled
(``coordination.protocol``) become the message log, with payloads from the scenario's
tables (DER ids, feeder ids, network data) and their sizes.

Owns: how each kind of exchange is split into messages (one per aggregator, one per period
and aggregator for activations) and what its payload holds. Must not: clear markets or
decide what a model exchanges.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from tsodso.coordination.protocol import (
    ActivationsSent,
    BidsSent,
    DataSent,
    Exchange,
    NetworkModelSent,
    SchedulesSent,
)
from tsodso.exchange.messages import MessageLog
from tsodso.scenario.domain import Scenario


def messages_of(scn: Scenario, exchanges: Iterable[Exchange]) -> MessageLog:
    """The message log of a model's exchanges, in their order."""
    log = MessageLog()
    for ev in exchanges:
        if isinstance(ev, BidsSent):
            _bids(log, scn, ev)
        elif isinstance(ev, ActivationsSent):
            _activations(log, scn, ev)
        elif isinstance(ev, SchedulesSent):
            for fpos, imp in ev.import_mw.items():
                log.send(
                    ev.step,
                    ev.sender,
                    ev.receiver,
                    "interface_schedule",
                    {"feeder": scn.grid.feeders[fpos].id, "import_mw": imp},
                )
        elif isinstance(ev, NetworkModelSent):
            if ev.feeder is None:
                log.send(ev.step, ev.sender, ev.receiver, "t_network", _transmission_model(scn))
            else:
                log.send(ev.step, ev.sender, ev.receiver, "d_network", feeder_model(scn, ev.feeder))
        elif isinstance(ev, DataSent):
            log.send(ev.step, ev.sender, ev.receiver, ev.kind, ev.payload, ev.period)
        else:  # pragma: no cover - a new record type without a builder
            raise TypeError(f"no message builder for {type(ev).__name__}")
    return log


def _bids(log: MessageLog, scn: Scenario, ev: BidsSent) -> None:
    """Each aggregator sends its bids for the day in one message."""
    bids = ev.bids
    for a in np.unique(bids.aggregator):
        m = bids.aggregator == a
        log.send(
            ev.step,
            scn.aggregator_names[a],
            ev.receiver,
            "bids",
            bids.offered(scn.ders.id, m),
        )


def _activations(log: MessageLog, scn: Scenario, ev: ActivationsSent) -> None:
    """Per period, the operator sends each aggregator its accepted quantities."""
    bids, accepted = ev.bids, ev.accepted_mw
    acc = accepted > 1e-6
    for t in np.unique(bids.period[acc]):
        for a in np.unique(bids.aggregator[acc & (bids.period == t)]):
            m = acc & (bids.period == t) & (bids.aggregator == a)
            log.send(
                ev.step,
                ev.sender,
                scn.aggregator_names[a],
                "activation",
                {
                    "der": scn.ders.id[bids.der[m]],
                    "direction": bids.direction[m],
                    "q_mw": accepted[m],
                },
                period=int(t),
            )


def feeder_model(scn: Scenario, fpos: int) -> dict[str, np.ndarray]:
    """The distribution network data a DSO shares for one feeder."""
    f = scn.grid.feeders[fpos]
    return {
        "node": scn.grid.node_bus[f.nodes],
        "parent": f.parent,
        "r_pu": f.r_pu,
        "x_pu": f.x_pu,
        "rating_mva": np.where(np.isfinite(f.rating_mva), f.rating_mva, -1.0),
        "vmin": f.vmin_pu,
        "vmax": f.vmax_pu,
        "p_forecast_mw": scn.node_p0_mw[f.nodes],
    }


def _transmission_model(scn: Scenario) -> dict[str, np.ndarray]:
    tg = scn.grid.transmission
    return {
        "from": tg.branch_from,
        "to": tg.branch_to,
        "x": tg.branch_x_pu,
        "rating": tg.branch_rating_mw,
    }
