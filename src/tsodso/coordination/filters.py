"""Distribution filters of the central family (``d_constraints``): what the DSO lets through
to a market that does not model distribution limits.

- ``none``: everything passes;
- ``static_prequal``: grid prequalification once for the day: a DER direction passes when
  its full activation alone, in every period of the DSO's forecast, creates no new
  violation and worsens no existing one;
- ``traffic_light``: per feeder and period, green when the forecast keeps a margin to every
  limit, yellow within the margin, red when violated; in yellow and red periods the bids
  that would push a stressed limit further are blocked;
- ``doe``: per feeder, period and direction, proportional dynamic operating envelopes
  (``envelopes.doe``) weighted by what each node offers: the largest common fraction of
  every offered quantity that keeps the forecast within limits (or no worse than the
  forecast) when all are activated together; each bid is clipped to it.

The DSO's forecast is LinDistFlow of the baseline with the root voltage from the baseline
AC power flow. Owns: the three filters and the messages they cause. Must not: clear.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsodso.coordination.context import MarketContext
from tsodso.coordination.protocol import Protocol
from tsodso.envelopes.doe import Envelope, envelope
from tsodso.grids.distflow import sensitivities
from tsodso.registration.grid import excess, forecast_state, static_hosting_check
from tsodso.schema.mechanism import Mechanism
from tsodso.schema.tables import BidTable

VOLTAGE_MARGIN_PU = 0.005
THERMAL_MARGIN = 0.05


@dataclass(frozen=True)
class FilterResult:
    caps_mw: np.ndarray  # new q_max per bid (0 = blocked)
    discarded_mwh: float
    envelopes: tuple[Envelope, ...] = ()  # the DOEs behind a ``doe`` filter

    def doe_kpis(self) -> dict[str, float]:
        """Mean hosting per period over feeders (export and import) and mean Jain index."""
        if not self.envelopes:
            return {}
        host = sum(float(e.hosting_mw.mean()) for e in self.envelopes)
        jain = float(np.mean([e.jain() for e in self.envelopes]))
        return {"doe_hosting_mw": round(host, 4), "doe_fairness_jain": round(jain, 4)}


def _worsens(
    dv2: np.ndarray, dflow: np.ndarray, pflow: np.ndarray, stressed: tuple[np.ndarray, ...]
) -> np.ndarray:
    """(n_local_nodes, T) bool: a unit up-injection at each node worsens a stressed limit.
    A down-injection worsens where the negated effect does."""
    over, under, th = stressed
    # dv2[:, j] > 0 raises voltages; dflow[b, j] * sign(P_b) > 0 raises |P_b|
    up_over = (dv2.T > 1e-12).astype(float) @ (over > 0).astype(float) > 0
    up_under = (dv2.T < -1e-12).astype(float) @ (under > 0).astype(float) > 0
    s = np.sign(pflow) * (th > 0)
    up_th = (dflow.T @ s) > 1e-12
    return np.asarray(up_over | up_under | up_th)


def _down_worsens(
    dv2: np.ndarray, dflow: np.ndarray, pflow: np.ndarray, stressed: tuple[np.ndarray, ...]
) -> np.ndarray:
    return _worsens(-dv2, -dflow, pflow, stressed)


def apply_filter(
    ctx: MarketContext,
    mech: Mechanism,
    bids: BidTable,
    proto: Protocol,
    receiver: str,
    mode: str | None = None,
    base_delta_mw: np.ndarray | None = None,
) -> FilterResult:
    """Caps for ``bids`` under ``mode`` (default ``mech.d_constraints``) at the DSO's
    forecast, moved by activations already decided (``base_delta_mw``); records the DSO's
    exchanges. The ``doe`` mode is also the *filtered* forwarding of the sequential family:
    caps under which any combination of forwarded bids stays within limits."""
    mode = mode or mech.d_constraints
    caps = bids.q_max_mw.copy()
    if mode in ("none", "full", "interface_aggregate"):
        return FilterResult(caps, 0.0)
    scn = ctx.scn
    layer = scn.grid.node_layer[bids.node]
    envelopes: list[Envelope] = []
    if mode == "static_prequal":
        static = static_hosting_check(scn, bids, ctx.forecast, base_delta_mw)
    for fpos, f in enumerate(scn.grid.feeders):
        in_f = np.flatnonzero(layer == fpos)
        st = forecast_state(scn, fpos, ctx.forecast, base_delta_mw)
        dv2, dfl = sensitivities(f)
        local = f.local_index(scn.grid.n_nodes)
        j = local[bids.node[in_f]]
        t = bids.period[in_f]
        up = bids.direction[in_f] > 0
        dso = scn.dsos.of_feeder(fpos)  # the feeder's own DSO checks it
        if mode == "traffic_light":
            stressed = excess(f, st, VOLTAGE_MARGIN_PU, THERMAL_MARGIN)
            violated = excess(f, st, 0.0, 0.0)
            w_up = _worsens(dv2, dfl, st.p_flow, stressed)
            w_dn = _down_worsens(dv2, dfl, st.p_flow, stressed)
            block = np.where(up, w_up[j, t], w_dn[j, t])
            caps[in_f[block]] = 0.0
            colour = np.where(
                np.any([(v > 0).any(0) for v in violated], axis=0),
                2,
                np.where(np.any([(v > 0).any(0) for v in stressed], axis=0), 1, 0),
            )
            proto.data(
                "traffic_light",
                dso,
                receiver,
                "traffic_light",
                {"feeder": f.id, "colour": colour},
            )
        elif mode == "static_prequal":
            blocked = in_f[static.blocked[in_f]]
            caps[blocked] = 0.0
            proto.data(
                "prequalification",
                dso,
                receiver,
                "prequalification",
                {"feeder": f.id, "der": scn.ders.id[np.unique(bids.der[blocked])]},
            )
        elif mode == "doe":
            # proportional envelopes (envelopes.doe), weighted by what each node offers
            for direction in (1, -1):
                m = bids.direction[in_f] == direction
                if not m.any():
                    continue
                offered = np.zeros((f.n, scn.periods))
                np.add.at(offered, (j[m], t[m]), bids.q_max_mw[in_f[m]])
                cust = np.flatnonzero(offered.any(axis=1))
                env = envelope(
                    f,
                    st,
                    cust,
                    "proportional",
                    direction,
                    weights=offered[cust],
                    margin_pu=scn.config.d_voltage_margin_pu,
                    cap_mw=np.inf,
                )
                with np.errstate(divide="ignore", invalid="ignore"):
                    frac = np.where(offered[cust] > 0, env.limit_mw / offered[cust], 0.0)
                lam = np.clip(frac.max(axis=0), 0.0, 1.0)  # one fraction per period
                caps[in_f[m]] = bids.q_max_mw[in_f[m]] * lam[t[m]]
                envelopes.append(env)
                proto.data(
                    "doe",
                    dso,
                    receiver,
                    "doe",
                    {
                        "feeder": f.id,
                        "direction": direction,
                        "node": f.nodes[cust],
                        "limit_mw": env.limit_mw,
                    },
                )
        else:
            raise ValueError(f"unknown d_constraints {mode!r}")
    discarded = float((bids.q_max_mw - caps).sum()) * scn.dt_h
    return FilterResult(caps, discarded, tuple(envelopes))
