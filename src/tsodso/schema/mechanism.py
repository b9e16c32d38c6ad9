"""The canonical mechanism space (MODELS.md section 2): one coordination model is one point.

Owns: the parameter vocabulary, declared once. Presets of the catalogue and the user's
``[models.ID]`` tables are both validated by ``Mechanism`` (a user model only adds a name
and a description). Which values a mechanism family can run is the family's own
declaration (``coordination.families``). A user model also carries its operating protocol
(``schema.operating``). Must not: import anything of tsodso but that sibling.
"""

from __future__ import annotations

from typing import Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, StrictStr, field_validator

from tsodso.schema.operating import OperatingProtocol

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
DModel = Literal["operational", "planning"]
DsoMarkets = Literal["per_dso", "one_platform"]
Stages = Literal["single", "da_rt", "reserve_rt", "perfect"]
Aggregation = Literal["per_der", "ferc2222"]
Reactive = Literal["none", "dso"]

ALL_NEEDS: tuple[Need, ...] = ("balancing", "t_congestion", "d_congestion", "voltage")


class Mechanism(BaseModel):
    """A point of the mechanism space. ``operator_label`` keeps a source's wording where it
    names several actors (e.g. 'dso+tso')."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    operator: Operator = Field(description="who clears the market(s)")
    sequence: Sequence = Field(description="order of clearing")
    d_constraints: DConstraints = Field(
        description="how distribution limits are respected when distribution resources serve "
        "the TSO"
    )
    d_path: DPath = Field(description="how distribution flexibility reaches the TSO")
    priority: Priority = Field("least_cost", description="who wins a contested resource")
    interface: Interface = Field("none", description="what is agreed at each TDI")
    needs: tuple[Need, ...] = Field(ALL_NEEDS, description="whose needs are procured")
    pricing: Pricing = Field("pay_as_bid", description="what a cleared bid is paid")
    cost_allocation: CostAllocation = Field(
        "by_need", description="how a joint bill is split between TSO and DSOs"
    )
    conflict_rule: ConflictRule = Field(
        "dso_override", description="who keeps a resource both operators bought (parallel)"
    )
    dso_correction: StrictBool = Field(False, description="a DSO corrective step after the TSO's")
    d_model: DModel = Field(
        "operational",
        description="the distribution model the clearing operator holds: the DSO's "
        "operational model, calibrated to its AC state estimate, or the planning data a DSO "
        "sends a third party (topology, impedances, limits, forecast injections)",
    )
    dso_markets: DsoMarkets = Field(
        "per_dso",
        description="with several DSOs, whether each DSO clears its own market (its own "
        "uniform price, its own messages to the TSO) or one platform clears the "
        "distribution side of every DSO at once (one price; the DSOs send it their grid "
        "models); a single market for every need (central, joint) is always one platform",
    )
    stages: Stages = Field(
        "single",
        description="when the model's markets clear: 'single' once, on the day-ahead "
        "nominations (the reference); 'da_rt' the same day-ahead clearing, then a real-time "
        "clearing by the same scheme of what the realised baselines leave (imbalance, "
        "congestion, voltage) with the bids' remaining capacity; 'reserve_rt' the day-ahead "
        "clearing reserves capacity (paid per MW and hour) that real time activates with "
        "the free bids' share left (``reservation``); 'perfect' one clearing by "
        "the same scheme on the realised baselines, knowing which units will fail (the "
        "perfect-foresight reference)",
    )
    aggregation: Aggregation = Field(
        "per_der",
        description="how DERs in feeders take part in an ISO/RTO market: 'per_der' each on "
        "its own; 'ferc2222' as FERC Order 2222 aggregations (one aggregator's DERs at one "
        "pricing node, at least 100 kW, after the distribution utility's review; the "
        "aggregator splits the awards)",
    )
    reactive: Reactive = Field(
        "none",
        description="the reactive-power product: 'none' (every flexibility bid is active "
        "power at unity power factor) or 'dso' (in each market a DSO clears of its own "
        "grid, inverter-based DERs also offer reactive power within their apparent-power "
        "capability, priced per MVArh, which the DSO buys for its voltage limits)",
    )
    curve_segments: StrictInt = Field(
        3, ge=1, le=10, description="segments per direction of an interface cost curve"
    )
    operator_label: StrictStr = Field(
        "", max_length=100, description="the source's name for who clears"
    )

    @field_validator("needs")
    @classmethod
    def _needs_once_each(cls, needs: tuple[Need, ...]) -> tuple[Need, ...]:
        if not needs:
            raise ValueError("expected at least one need")
        twice = sorted({n for n in needs if needs.count(n) > 1})
        if twice:
            raise ValueError(f"{', '.join(twice)} named more than once")
        return needs

    def as_dict(self) -> dict[str, Any]:
        """The parameters as plain JSON-ready values."""
        d = self.model_dump()
        d["needs"] = list(self.needs)
        return d


class UserModel(Mechanism):
    """A user-defined point of the mechanism space: a ``[models.ID]`` table."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: StrictStr = Field("", max_length=100, description="display name (default: the id)")
    description: StrictStr = Field(
        "", max_length=500, description="one line on what the model does"
    )
    protocol: OperatingProtocol = Field(
        default_factory=OperatingProtocol,
        description="its operating protocol ([models.ID.protocol]; default: the TSO "
        "instructs directly, the DSO may override, nothing else)",
    )

    def mechanism(self) -> Mechanism:
        """The point of the space, without the name, description and protocol."""
        return Mechanism(**self.model_dump(exclude={"name", "description", "protocol"}))


#: every dimension of the space and the values it takes (derived from the fields above)
DIMENSIONS: dict[str, tuple[str, ...]] = {
    name: get_args(get_args(info.annotation)[0]) if name == "needs" else get_args(info.annotation)
    for name, info in Mechanism.model_fields.items()
    if name not in ("dso_correction", "operator_label", "curve_segments")
}
