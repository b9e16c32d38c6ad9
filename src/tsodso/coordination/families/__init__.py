"""The mechanism families (MODELS.md section 3), each the owner of its registry entry.

A family says which values of each dimension it can run (``supports``) and which
dimensions it does not read at all (``ignores``, with the reason: a value there is accepted
and changes nothing). ``check`` lists every problem of a point of the space against its
family, so that presets and user models are refused when the configuration is loaded, not
in the middle of a run.

Owns: ``Family``, ``FAMILIES``, ``family_of`` and ``check``. Must not: clear markets.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from tsodso.coordination.context import MarketContext
from tsodso.coordination.families.central import run_central
from tsodso.coordination.families.implicit import run_implicit
from tsodso.coordination.families.iterative import run_iterative
from tsodso.coordination.families.joint import run_joint
from tsodso.coordination.families.parallel import run_parallel
from tsodso.coordination.families.sequential import run_sequential
from tsodso.coordination.outcome import ModelOutcome
from tsodso.schema.mechanism import Mechanism

Run = Callable[[MarketContext, Mechanism], ModelOutcome]


@dataclass(frozen=True)
class Family:
    """One mechanism family: how it runs and what it can run.

    ``supports`` maps a dimension to the values this family runs (a dimension not named
    takes every value of the vocabulary); ``ignores`` maps a dimension this family does not
    read to why; ``dso_correction`` says whether it has a DSO corrective step."""

    name: str
    run: Run
    description: str
    supports: Mapping[str, frozenset[str]] = field(default_factory=dict)
    ignores: Mapping[str, str] = field(default_factory=dict)
    dso_correction: bool = False


def _s(*values: str) -> frozenset[str]:
    return frozenset(values)


_PER_DER = _s("per_der")  # FERC 2222 aggregations: only where an ISO clears DERs directly
_NO_CONFLICT = "no resource is bought by two operators in one step"
_ONE_BUYER = "a single buyer: no cost to allocate"
_OWN_MARKETS = "each operator pays for its own market"
_NO_D_MODEL = "the clearing operator holds no distribution model here"
_ONE_MARKET = "one market clears every need of every DSO: it is the one platform"
_DSO_MODEL = _s("operational")  # the DSO (or an IDSO given its status) clears its own grid
# needs every family can serve; commercial needs only where one market serves everyone
_SO_NEEDS = _s("balancing", "t_congestion", "d_congestion", "voltage")
# reactive power is bought by a DSO in a market of its own grid (issue 14, item 4): the
# families with a DSO market (local, sequential, parallel) sell it; one market for every
# need, a decomposition and a tariff have no DSO market to buy it in
_NO_REACTIVE = _s("none")

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "central",
            run_central,
            "the TSO (or a market operator for it) clears with its DC model only; "
            "distribution bids pass the d_constraints filter",
            supports={
                "aggregation": _s("per_der", "ferc2222"),
                "operator": _s("tso", "independent", "joint", "idso"),
                "d_constraints": _s("none", "static_prequal", "traffic_light", "doe"),
                "d_path": _s("direct"),
                "interface": _s("none"),
                "needs": _SO_NEEDS,
                "reactive": _NO_REACTIVE,
            },
            ignores={
                "priority": "one market: nobody contests a resource",
                "cost_allocation": _ONE_BUYER,
                "conflict_rule": _NO_CONFLICT,
                "d_model": _NO_D_MODEL,
                "dso_markets": _ONE_MARKET,
            },
        ),
        Family(
            "local",
            run_parallel,
            "the DSO clears its own needs from distribution resources; the TSO buys from "
            "transmission resources only (nothing is forwarded)",
            supports={
                "aggregation": _PER_DER,
                "d_constraints": _s("full"),
                "d_path": _s("none"),
                "interface": _s("none"),
                "d_model": _DSO_MODEL,
                "needs": _SO_NEEDS,
            },
            ignores={
                "priority": "the markets share no resource",
                "cost_allocation": _OWN_MARKETS,
                "conflict_rule": _NO_CONFLICT,
            },
        ),
        Family(
            "joint",
            run_joint,
            "one LP over the DC grid and every LinDistFlow feeder with every need; a "
            "priority operator's needs are met first (pre-emption); an operator other than "
            "the DSOs clears with the planning data they send unless it runs their functions",
            supports={
                "aggregation": _PER_DER,
                "operator": _s("tso", "joint", "independent"),
                "d_constraints": _s("full"),
                "d_path": _s("platform", "direct"),
                "interface": _s("joint", "none"),
                "reactive": _NO_REACTIVE,
            },
            ignores={"conflict_rule": _NO_CONFLICT, "dso_markets": _ONE_MARKET},
        ),
        Family(
            "sequential",
            run_sequential,
            "the DSO clears its needs first; residual bids go up raw, filtered, or as "
            "interface cost curves; with a schedule interface the DSO also balances its "
            "area at each TDI; optional DSO correction",
            supports={
                "aggregation": _PER_DER,
                "d_path": _s("residual", "filtered", "aggregated"),
                "interface": _s("none", "curve", "schedule"),
                "d_model": _DSO_MODEL,
                "needs": _SO_NEEDS,
            },
            ignores={
                "priority": "the DSO always clears first",
                "cost_allocation": _OWN_MARKETS,
                "conflict_rule": _NO_CONFLICT,
            },
            dso_correction=True,
        ),
        Family(
            "parallel",
            run_parallel,
            "both operators clear at once for their own needs: TDI schedules, fragmented "
            "markets, or hybrid markets whose conflicts go to the priority operator",
            supports={
                "aggregation": _s("per_der", "ferc2222"),
                "d_path": _s("schedule", "none", "direct"),
                "d_constraints": _s("none", "static_prequal", "traffic_light", "doe", "full"),
                "interface": _s("schedule", "none"),
                "d_model": _DSO_MODEL,
                "needs": _SO_NEEDS,
            },
            ignores={"cost_allocation": _OWN_MARKETS},
        ),
        Family(
            "iterative",
            run_iterative,
            "TSO and DSOs (or an IDSO) agree on TDI exchanges by a price-based (Benders) "
            "decomposition",
            supports={
                "aggregation": _PER_DER,
                "d_constraints": _s("full"),
                "d_path": _s("platform"),
                "interface": _s("priced_flow"),
                "d_model": _DSO_MODEL,
                "needs": _SO_NEEDS,
                "reactive": _NO_REACTIVE,
            },
            ignores={
                "priority": "the decomposition reaches the least-cost optimum",
                "cost_allocation": _OWN_MARKETS,
                "conflict_rule": _NO_CONFLICT,
            },
        ),
        Family(
            "implicit",
            run_implicit,
            "DERs self-dispatch against forecast DLMPs; nobody coordinates quantities",
            supports={
                "aggregation": _PER_DER,
                "d_constraints": _s("full"),
                "interface": _s("priced_flow"),
                "d_model": _DSO_MODEL,
                "needs": _SO_NEEDS,
                "reactive": _NO_REACTIVE,
            },
            ignores={
                "priority": "no market allocates resources",
                "cost_allocation": "the tariff splits into system and network components",
                "conflict_rule": _NO_CONFLICT,
                "d_path": "every DER responds to the tariff",
                "dso_markets": "no market: each DSO publishes its own area's tariff",
            },
        ),
    )
}


def family_of(mech: Mechanism) -> str:
    """The family that runs a point of the space (decided by its sequence)."""
    if mech.sequence == "implicit" or mech.d_path == "implicit":
        return "implicit"
    if mech.sequence == "joint":
        return "joint"
    if mech.sequence == "single":
        if mech.operator == "dso":
            return "local"
        # one operator that also runs the DSOs' functions (ENA Future World D) clears with
        # the distribution grids: the joint market, run by that operator
        return "joint" if mech.d_constraints == "full" else "central"
    if mech.sequence == "dso_then_tso":
        return "sequential"
    return mech.sequence  # parallel | iterative


def check(mech: Mechanism) -> list[str]:
    """Every reason why the family of ``mech`` cannot run it (empty when it can)."""
    fam = FAMILIES[family_of(mech)]
    problems = []
    for dim, allowed in fam.supports.items():
        value = getattr(mech, dim)
        values = value if isinstance(value, tuple) else (value,)
        bad = [v for v in values if v not in allowed]
        if bad:
            shown = ", ".join(repr(v) for v in bad)
            problems.append(
                f"{dim} = {shown}: the {fam.name} family (sequence = {mech.sequence!r}) runs "
                f"{dim} in {sorted(allowed)}"
            )
    if fam.name == "parallel" and (mech.d_path == "schedule") != (mech.interface == "schedule"):
        problems.append(
            f"d_path = {mech.d_path!r} with interface = {mech.interface!r}: in the parallel "
            "family a schedule path is the schedule interface (both or neither)"
        )
    if mech.priority == "highest_value" and "commercial" not in mech.needs:
        problems.append(
            "priority = 'highest_value' without the 'commercial' need: with the SOs' needs "
            "alone the highest value is the least cost (use least_cost)"
        )
    if mech.reactive == "dso" and "voltage" not in mech.needs:
        problems.append(
            "reactive = 'dso' without the 'voltage' need: reactive power is bought for "
            "distribution voltage only"
        )
    if mech.reactive == "dso" and mech.stages != "single":
        problems.append(
            f"reactive = 'dso' with stages = {mech.stages!r}: the reactive product clears "
            "in a single stage only (the real-time stage does not carry reactive set-points)"
        )
    if mech.dso_correction and not fam.dso_correction:
        problems.append(
            f"dso_correction = true: the {fam.name} family has no DSO corrective step "
            "(only sequence = 'dso_then_tso' does)"
        )
    return problems


def run(ctx: MarketContext, mech: Mechanism) -> ModelOutcome:
    """Run a point of the space with its family (``check`` it first)."""
    problems = check(mech)
    if problems:
        raise ValueError("; ".join(problems))
    return FAMILIES[family_of(mech)].run(ctx, mech)
