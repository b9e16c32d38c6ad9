"""The seeded random streams of a scenario, one id each: every draw takes
``np.random.default_rng([seed, STREAM])`` with its own id, so that no two draws share a
sequence (two draws on one stream would be correlated, and adding a draw would shift
another's). The scenario build's main draws take ``default_rng(seed)`` itself.

Owns: the ids. Must not: draw.
"""

from __future__ import annotations

from typing import Final

#: which transmission-connected generators offer no flexibility (``scenario.build``)
SILENT_GENERATORS: Final = 1
#: the BRPs' shares of the imbalance and their values (``scenario.build``)
BRP_POSITIONS: Final = 2
#: registration data: which units have interval meters (``registration.products``)
REGISTRATION: Final = 11
#: the DER baselines' forecast error (``dispatch.delivery``)
FORECAST_ERROR: Final = 12
#: which DERs fail to deliver (``dispatch.delivery``)
FAILURES: Final = 13
#: the reactive-power offer prices (``scenario.reactive``)
REACTIVE_PRICES: Final = 14
