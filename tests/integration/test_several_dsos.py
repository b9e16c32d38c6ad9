"""Several DSOs: each an actor with its own market, payments, ledger and messages; a market
per DSO and one platform for every DSO differ where pricing is uniform; a bad ``[dsos]``
table is refused with every problem at once."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tsodso.coordination.catalogue import models_for
from tsodso.grids.dso_areas import dso_areas
from tsodso.pipeline import Prepared, RunResult, prepare
from tsodso.pipeline import run_model as _run
from tsodso.scenario.build import build_scenario
from tsodso.schema.config import PRESETS, ScenarioConfigError, config_from_dict

# the feeders of the small preset's grid (simbench 1-HVMV-mixed-all-0-sw), in two DSOs
NORTH = ["MV1.102", "MV1.103", "MV1.104", "MV1.105", "MV1.106", "MV1.107", "MV1.108"]
SOUTH = [
    "MV2.102", "MV2.103", "MV3.102", "MV3.102-2802", "MV3.103", "MV3.103-3240",
    "MV1.101", "MV2.101", "MV3.101", "MV3.101-4194", "MV4.101",
]  # fmt: skip
# the fragmented market (each operator buys for its own needs in its own grid) at a
# uniform price: once with a market per DSO, once with one platform for both
FRAGMENTED = {
    "operator": "separate",
    "sequence": "parallel",
    "d_constraints": "full",
    "d_path": "none",
    "priority": "dso",
    "pricing": "pay_as_clear",
}


def run_model(prepared: Prepared, mid: str) -> RunResult:
    """A named model or one of the scenario's own [models.ID]."""
    return _run(prepared, models_for(prepared.scn.config)[mid])


def _config(**over: Any) -> dict[str, Any]:
    return {
        **PRESETS["small"],
        "periods": 4,
        "dsos": {"DSO-north": NORTH, "DSO-south": SOUTH},
        "models": {
            "frag-per-dso": {**FRAGMENTED, "dso_markets": "per_dso"},
            "frag-platform": {**FRAGMENTED, "dso_markets": "one_platform"},
        },
        **over,
    }


@pytest.fixture(scope="module")
def two() -> Prepared:
    return prepare(build_scenario(config_from_dict(_config())))


def _clearing_prices(r: Any, buyer: str) -> dict[tuple[int, int], set[float]]:
    """Per (period, direction), the prices (EUR/MWh) ``buyer``'s accepted bids were paid."""
    b = r.prepared.scn.bids
    p = next(p for p in r.outcome.purchases if p.buyer == buyer)
    k = np.flatnonzero(p.accepted_mw > 1e-6)
    price = p.payments_eur[k] / (p.accepted_mw[k] * 0.25)
    out: dict[tuple[int, int], set[float]] = {}
    for i, pr in zip(k, price, strict=True):
        out.setdefault((int(b.period[i]), int(b.direction[i])), set()).add(round(float(pr), 6))
    return out


def test_default_is_one_dso_per_hv_mv_substation(two: Prepared) -> None:
    grid = two.scn.grid
    areas = dso_areas(grid)
    # 18 feeders at 15 HV/MV substations: the two radial parts of MV3.101-103 share theirs
    assert areas.n == 15 and areas.names[0] == "DSO-1"
    for k in range(areas.n):
        assert len({grid.feeders[f].tdi_node for f in areas.feeders(k)}) == 1
    assert dso_areas(grid, "one").names == ("DSO",)
    assert two.scn.dsos.names == ("DSO-north", "DSO-south")


def test_a_market_per_dso_has_its_own_uniform_price(two: Prepared) -> None:
    per = run_model(two, "frag-per-dso")
    one = run_model(two, "frag-platform")
    # the same quantities: no row of a DSO's market joins two feeders, so who clears them
    # does not change what is bought ...
    np.testing.assert_allclose(per.outcome.accepted_mw, one.outcome.accepted_mw, atol=1e-9)
    # ... but with a market per DSO each clears at its own price, and one platform at the
    # highest accepted price of both areas: the DSOs pay less in their own markets
    assert per.kpis["dso_cost_eur"] < one.kpis["dso_cost_eur"] - 1.0
    diff = 0
    north_per, south_per = (_clearing_prices(per, d) for d in ("DSO-north", "DSO-south"))
    north_one, south_one = (_clearing_prices(one, d) for d in ("DSO-north", "DSO-south"))
    for key in north_per.keys() & south_per.keys():
        # one price per DSO market and (period, direction)
        assert len(north_per[key]) == 1 and len(south_per[key]) == 1
        diff += north_per[key] != south_per[key]
        # one platform: one price for both DSOs
        assert north_one[key] == south_one[key] and len(north_one[key]) == 1
    assert diff > 0  # the two DSO markets clear at different prices somewhere
    # each DSO pays for what was bought in its own area, and the sum is the DSOs' cost
    for r in (per, one):
        names = {p.buyer for p in r.outcome.purchases if p.buyer.startswith("DSO")}
        assert names == {"DSO-north", "DSO-south"}
        total = sum(r.outcome.cost_of(n) for n in names)
        assert total == pytest.approx(r.kpis["dso_cost_eur"], abs=0.01)


def test_each_dso_settles_and_messages_name_it(two: Prepared) -> None:
    for mid in ("frag-per-dso", "frag-platform", "smartnet-b", "coordinet-common"):
        r = run_model(two, mid)
        ledger = r.life.settlement.ledger
        assert ledger.total_cents() == 0, mid
        bal = ledger.balances()
        assert {"DSO-north", "DSO-south"} <= set(bal), mid
        assert -sum(v for p, v in bal.items() if p.startswith("DSO")) / 100.0 == pytest.approx(
            r.kpis["settled_dso_eur"], abs=0.01
        )
        msgs = r.messages.table()
        parties = set(msgs.sender) | set(msgs.receiver)
        assert {"DSO-north", "DSO-south"} <= parties, mid
        assert "DSO" not in parties, mid
        table = r.tables()["dsos"]
        assert list(table.dso) == ["DSO-north", "DSO-south"]
        assert table.cost_eur.sum() == pytest.approx(r.kpis["dso_cost_eur"], abs=0.05)
        # each DSO's cost to serve: its own purchases and its own area's unmet needs
        got = table.cost_to_serve_eur.sum()
        assert got == pytest.approx(r.kpis["cost_to_serve_dso_eur"], abs=0.05)
        assert table.voltage_violations.sum() == r.kpis["voltage_violations_distribution"]
        assert table.overload_mwh.sum() == pytest.approx(
            r.kpis["overload_distribution_mwh"], abs=1e-3
        )
        assert ((table.messages_sent + table.messages_received) > 0).all()
    per = run_model(two, "frag-per-dso").messages.table()
    one = run_model(two, "frag-platform").messages.table()
    # a market per DSO: each DSO receives its own area's bids; one platform: the market
    # operator does, and each DSO sends it its feeders' models
    assert {"DSO-north", "DSO-south"} <= set(per[per.kind.str.contains("bid")].receiver)
    assert "MO" in set(one[one.kind.str.contains("bid")].receiver)
    sent = one[(one.kind == "d_network") & (one.receiver == "MO")]
    assert set(sent.sender) == {"DSO-north", "DSO-south"}
    assert len(sent) == len(NORTH) + len(SOUTH)


def test_a_bad_dsos_table_lists_every_problem() -> None:
    cfg = _config(dsos={"DSO-north": [*NORTH, "MV9.999"], "DSO-south": [*SOUTH[:-1], "MV1.102"]})
    with pytest.raises(ScenarioConfigError) as err:
        build_scenario(config_from_dict(cfg))
    msg = str(err.value)
    assert "'MV9.999' is not a feeder of this grid" in msg
    assert "feeder 'MV1.102' is in 2 DSOs (DSO-north, DSO-south)" in msg
    assert "MV4.101 belong to no DSO" in msg
    with pytest.raises(ScenarioConfigError) as err:
        config_from_dict(_config(dsos={"north": NORTH, "DSO-south": []}))
    msg = str(err.value)
    assert "dsos.north: expected a DSO name 'DSO' or 'DSO-'" in msg
    assert "dsos: DSO-south = []: expected a non-empty array" in msg
    with pytest.raises(ScenarioConfigError, match="dsos"):
        config_from_dict(_config(dsos="two"))
