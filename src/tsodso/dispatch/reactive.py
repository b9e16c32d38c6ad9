"""Reactive set-points: what the DSOs bought of each DER's reactive power (issue 14, item
4), per DER and period, and what was delivered of it.

A DER that fails for the day (``dispatch.delivery``: ``failed``) delivers none of its
reactive set-points either; every other DER follows them exactly (assumption: an inverter
holds a reactive set-point within its capability; no rebound, no forecast error).
The reactive set-points are not touched by the contingency rules, which act on active
power (``operation.contingency``).

Owns: ``ReactiveDelivery`` and ``reactive_delivery``. Must not: settle or run the AC
check (``settlement.reactive`` and ``pipeline`` do).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsodso.coordination.outcome import ModelOutcome
from tsodso.scenario.domain import Scenario


@dataclass(frozen=True)
class ReactiveDelivery:
    """Reactive set-points and what was delivered (D, T; MVAr, + = injection)."""

    setpoint_mvar: np.ndarray
    delivered_mvar: np.ndarray


def reactive_delivery(scn: Scenario, outcome: ModelOutcome, failed: np.ndarray) -> ReactiveDelivery:
    """The reactive set-points of ``outcome`` per DER and period, and their delivery given
    the DERs that ``failed`` (D,)."""
    sp = np.zeros((len(scn.ders), scn.periods))
    r = scn.reactive
    q = outcome.reactive_mvar
    if r is not None and len(q):
        np.add.at(sp, (r.der, r.period), q)
    return ReactiveDelivery(sp, np.where(np.asarray(failed, dtype=bool)[:, None], 0.0, sp))
