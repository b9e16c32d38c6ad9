"""What the operators forecast before any market, as one object: the state every clearing,
filter, prequalification and envelope starts from.

Made once per prepared scenario, where the baseline AC power flow is run
(``validation.forecast``), and handed to whoever needs it. Owns: the arrays and their
meaning. Must not: compute them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GridForecast:
    """The operators' forecast of the coupled grid at the baseline (no flexibility).

    - ``root_vm_pu`` (n_feeders, T): each feeder's root voltage from the baseline AC flow;
    - ``v2_offset`` per feeder (n, T): AC minus LinDistFlow squared voltage at the baseline,
      which makes each DSO's linear model exact there;
    - ``t_rating_factor`` (n_branch, T): DC flow over AC apparent power at the baseline, in
      [0.5, 1], so that the TSO's DC limit means its AC rating (None: 1 everywhere).
    """

    root_vm_pu: np.ndarray
    v2_offset: tuple[np.ndarray, ...]
    t_rating_factor: np.ndarray | None = None

    @staticmethod
    def flat(n_nodes_per_feeder: list[int], periods: int) -> GridForecast:
        """An uncalibrated forecast: 1 pu at every root, no offsets, DC limits = ratings."""
        return GridForecast(
            np.ones((len(n_nodes_per_feeder), periods)),
            tuple(np.zeros((n, periods)) for n in n_nodes_per_feeder),
            None,
        )
