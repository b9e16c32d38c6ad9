"""The canonical mechanism space (MODELS.md section 2): one coordination model is one point.

Owns: the parameter vocabulary and its validation, and which mechanism family a point
belongs to. Must not: clear markets.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Operator = Literal["tso", "dso", "joint", "independent", "idso", "separate"]
Need = Literal["balancing", "t_congestion", "d_congestion", "voltage", "commercial"]
Sequence = Literal["single", "joint", "dso_then_tso", "parallel", "iterative", "implicit"]
DConstraints = Literal[
    "none", "static_prequal", "traffic_light", "doe", "interface_aggregate", "full"
]
DPath = Literal[
    "direct", "residual", "filtered", "aggregated", "schedule", "platform", "implicit", "none"
]
Priority = Literal["tso", "dso", "least_cost", "highest_value"]
Interface = Literal["none", "schedule", "curve", "priced_flow", "joint"]
Pricing = Literal["pay_as_bid", "pay_as_clear", "nodal"]
CostAllocation = Literal["by_need", "proportional", "shapley"]
ConflictRule = Literal["dso_override", "tso_first", "pro_rata"]

ALL_NEEDS: tuple[Need, ...] = ("balancing", "t_congestion", "d_congestion", "voltage")


@dataclass(frozen=True)
class Mechanism:
    """A point of the mechanism space. ``operator`` and ``priority`` keep the source's
    wording in ``operator_label`` where it names several actors (e.g. 'dso+tso')."""

    operator: Operator
    sequence: Sequence
    d_constraints: DConstraints
    d_path: DPath
    priority: Priority
    interface: Interface
    needs: tuple[Need, ...] = ALL_NEEDS
    pricing: Pricing = "pay_as_bid"
    cost_allocation: CostAllocation = "by_need"
    conflict_rule: ConflictRule = "dso_override"
    dso_correction: bool = False
    operator_label: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def family(self) -> str:
        """The mechanism family (MODELS.md section 3) that runs this point."""
        if self.sequence == "implicit" or self.d_path == "implicit":
            return "implicit"
        if self.sequence in ("joint",):
            return "joint"
        if self.sequence == "single":
            return "local" if self.operator == "dso" else "central"
        if self.sequence == "dso_then_tso":
            return "sequential"
        return self.sequence  # parallel | iterative

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["needs"] = list(self.needs)
        d["family"] = self.family
        return d


@dataclass(frozen=True)
class ModelPreset:
    """A named coordination model from the literature, as a point of the mechanism space."""

    id: str
    name: str
    region: str
    source: str
    description: str
    mechanism: Mechanism
    interpretation: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "region": self.region,
            "source": self.source,
            "family": self.mechanism.family,
            "description": self.description,
            "interpretation": self.interpretation,
            "parameters": self.mechanism.as_dict(),
        }
