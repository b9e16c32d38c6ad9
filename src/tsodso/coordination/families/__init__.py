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


_NO_INTERFACE = "no interface agreement is modelled in this family yet"
_NO_CONFLICT = "no resource is bought by two operators in one step"
_ONE_BUYER = "a single buyer: no cost to allocate"

FAMILIES: dict[str, Family] = {
    f.name: f
    for f in (
        Family(
            "central",
            run_central,
            "the TSO (or a market operator for it) clears with its DC model only; "
            "distribution bids pass the d_constraints filter",
            supports={
                "operator": _s("tso", "independent", "joint", "idso"),
                "d_constraints": _s("none", "static_prequal", "traffic_light", "doe"),
                "d_path": _s("direct"),
            },
            ignores={
                "priority": "one market: nobody contests a resource",
                "interface": _NO_INTERFACE,
                "cost_allocation": _ONE_BUYER,
                "conflict_rule": _NO_CONFLICT,
            },
        ),
        Family(
            "local",
            run_parallel,
            "the DSO clears its own needs from distribution resources; the TSO buys from "
            "transmission resources only (nothing is forwarded)",
            supports={"d_constraints": _s("full"), "d_path": _s("none")},
            ignores={
                "priority": "the markets share no resource",
                "interface": _NO_INTERFACE,
                "cost_allocation": "each operator pays for its own market",
                "conflict_rule": _NO_CONFLICT,
            },
        ),
        Family(
            "joint",
            run_joint,
            "one LP over the DC grid and every LinDistFlow feeder with every need",
            supports={
                "operator": _s("tso", "joint", "independent"),
                "d_constraints": _s("full"),
                "d_path": _s("platform", "direct"),
            },
            ignores={"interface": _NO_INTERFACE, "conflict_rule": _NO_CONFLICT},
        ),
        Family(
            "sequential",
            run_sequential,
            "the DSO clears its needs first; residual bids go up raw, filtered, or as "
            "interface cost curves; optional DSO correction",
            supports={
                "d_path": _s("residual", "filtered", "aggregated"),
            },
            ignores={
                "priority": "the DSO always clears first",
                "interface": _NO_INTERFACE,
                "cost_allocation": "each operator pays for its own step",
                "conflict_rule": _NO_CONFLICT,
            },
            dso_correction=True,
        ),
        Family(
            "parallel",
            run_parallel,
            "both operators clear at once for their own needs: TDI schedules, fragmented "
            "markets, or hybrid markets whose conflicts follow conflict_rule",
            supports={
                "d_path": _s("schedule", "none", "direct"),
                "d_constraints": _s("none", "static_prequal", "traffic_light", "doe", "full"),
            },
            ignores={
                "priority": "conflicts follow conflict_rule",
                "interface": _NO_INTERFACE,
                "cost_allocation": "each operator pays for its own market",
            },
        ),
        Family(
            "iterative",
            run_iterative,
            "TSO and DSOs agree on TDI exchanges by a price-based (Benders) decomposition",
            supports={"d_constraints": _s("full"), "d_path": _s("platform")},
            ignores={
                "priority": "the decomposition reaches the least-cost optimum",
                "interface": _NO_INTERFACE,
                "cost_allocation": "each operator pays for its own market",
                "conflict_rule": _NO_CONFLICT,
            },
        ),
        Family(
            "implicit",
            run_implicit,
            "DERs self-dispatch against forecast DLMPs; nobody coordinates quantities",
            supports={"d_constraints": _s("full")},
            ignores={
                "priority": "no market allocates resources",
                "interface": _NO_INTERFACE,
                "cost_allocation": "the tariff splits into system and network components",
                "conflict_rule": _NO_CONFLICT,
                "d_path": "every DER responds to the tariff",
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
        return "local" if mech.operator == "dso" else "central"
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
