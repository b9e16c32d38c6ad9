"""Reactive-power offers of inverter-based DERs in distribution feeders (issue 14, item 4:
reactive power for distribution voltage, bought by the DSO).

Which DERs offer: photovoltaics, wind, batteries and EV chargers (kinds ``pv``, ``wind``,
``battery``, ``ev``), the kinds connected through a power-electronic converter.
(Assumption: distribution-connected wind is converter-coupled, type 3 or 4; hydro,
biomass and other generators are synchronous machines and flexible loads are not
inverters: they offer none.) Only DERs inside a distribution feeder offer: the product is
for distribution voltage.

How much: IEEE Std 1547-2018, clause 5.2 and Table 7, normal performance Category B: a
reactive capability of 44 % of the nameplate apparent power, injecting (over-excited) and
absorbing (under-excited) alike. The apparent-power rating is taken as the DER's
``p_rated_mw`` (assumption: the table has no separate kVA rating), and the offer is also
capped by what the rating leaves at the baseline output, ``sqrt(S^2 - P^2)``. The
capability at once with an active-power activation of the same unit is not checked
(assumption: a unit activated for both products may exceed its rating by up to
``sqrt(1 + 0.44^2) = 1.09``; a joint P-Q capability row is left for later).
When: PV and wind from 20 % of rated output (1547-2018 requires the Table 7 capability
from there up and allows less below it: we offer none there, on the safe side); a
battery in every period (a storage inverter runs in four quadrants at zero output;
assumption); an EV charger while the EV is connected (it has flexibility or a baseline
then).

Price: a synthetic seeded draw per DER, uniform on ``PRICE_EUR_PER_MVARH``, anchored on
National Grid ESO's default payment for the Obligatory Reactive Power Service, about
GBP 2-4 per MVArh, at 1.15 EUR/GBP (assumption: a synthetic price, labelled so). The draw
comes from a stream of its own (``[seed, 3]``), so every other draw of the scenario is as
it was without reactive offers.

Owns: ``reactive_offers`` and the product's capability and price constants. Must not:
decide who buys them (``coordination``) or clear them (``clearing``).
"""

from __future__ import annotations

from typing import Final

import numpy as np

from tsodso.schema.streams import REACTIVE_PRICES
from tsodso.schema.tables import DerTable, ReactiveTable

#: IEEE Std 1547-2018 Table 7, Category B: reactive capability as a share of nameplate
#: apparent power, injection and absorption alike
CATEGORY_B_SHARE: Final = 0.44
#: output (share of rated) from which 1547-2018 requires the Table 7 capability
FULL_CAPABILITY_FROM: Final = 0.2
#: the kinds that offer reactive power (converter-coupled)
INVERTER_KINDS: Final = ("pv", "wind", "battery", "ev")
#: synthetic price range, EUR/MVArh: NG ESO ORPS default payment ~GBP 2-4/MVArh x 1.15
PRICE_EUR_PER_MVARH: Final = (2.3, 4.6)
#: the smallest offer kept, MVAr (as ``MIN_BID_MW`` for active power)
MIN_OFFER_MVAR: Final = 1e-3


def capability_mvar(ders: DerTable) -> np.ndarray:
    """(D, T) reactive capability of each DER per period, MVAr, either way (zero for a
    DER that offers none)."""
    s = ders.p_rated_mw[:, None]
    p = np.abs(ders.p_base_mw)
    cap = np.minimum(CATEGORY_B_SHARE * s, np.sqrt(np.maximum(s**2 - p**2, 0.0)))
    kind = ders.kind[:, None]
    renewable = np.isin(kind, ("pv", "wind"))
    present = np.where(
        renewable,
        p >= FULL_CAPABILITY_FROM * s,
        np.where(
            kind == "ev",
            (ders.up_mw > 0) | (ders.down_mw > 0) | (p > 0),
            np.isin(kind, INVERTER_KINDS),
        ),
    )
    return np.where(present, cap, 0.0)


def reactive_offers(ders: DerTable, in_feeder: np.ndarray, seed: int) -> ReactiveTable:
    """One symmetric offer per inverter-based DER in a feeder (``in_feeder``: (D,) bool)
    and period where its capability exceeds ``MIN_OFFER_MVAR``, at its synthetic price."""
    lo, hi = PRICE_EUR_PER_MVARH
    price = np.round(np.random.default_rng([seed, REACTIVE_PRICES]).uniform(lo, hi, len(ders)), 2)
    cap = np.where(np.asarray(in_feeder, dtype=bool)[:, None], capability_mvar(ders), 0.0)
    d, t = np.nonzero(cap > MIN_OFFER_MVAR)
    return ReactiveTable(
        der=d,
        period=t,
        q_max_mvar=cap[d, t],
        price_eur_per_mvarh=price[d],
        node=ders.node[d],
        aggregator=ders.aggregator[d],
    )
