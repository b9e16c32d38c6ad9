"""LinDistFlow (Baran-Wu, losses neglected) in closed form on one radial feeder: the state
for given injections, and the sensitivities of squared voltages and branch flows.

Owns: the forecast power flow a DSO runs for prequalification, traffic lights and DOEs.
The LP in ``clearing.market`` writes the same equations as constraints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tsodso.grids.model import Feeder


@dataclass(frozen=True)
class FeederState:
    """Squared voltages (n, T), branch P/Q flows towards the feeder end (n, T; row 0 = 0)."""

    v2: np.ndarray
    p_flow: np.ndarray
    q_flow: np.ndarray

    @property
    def vm_pu(self) -> np.ndarray:
        return np.asarray(np.sqrt(np.maximum(self.v2, 0.0)))


def lindistflow(
    f: Feeder, p_mw: np.ndarray, q_mvar: np.ndarray, vroot_pu: np.ndarray
) -> FeederState:
    """State for node injections ``p_mw``, ``q_mvar`` (n, T) and root voltage (T,)."""
    sub = f.subtree()
    r, x = f.path_impedance()
    v2 = np.asarray(vroot_pu)[None, :] ** 2 + 2.0 * (r @ p_mw + x @ q_mvar)
    pf = -(sub @ p_mw)
    qf = -(sub @ q_mvar)
    pf[0] = 0.0
    qf[0] = 0.0
    return FeederState(v2, pf, qf)


def sensitivities(f: Feeder) -> tuple[np.ndarray, np.ndarray]:
    """(dv2/dp, dP/dp): (n, n) matrices for a unit injection at each node (columns)."""
    r, _ = f.path_impedance()
    sub = f.subtree()
    dflow = -sub
    dflow[0] = 0.0
    return 2.0 * r, dflow
