"""Every named coordination model of the review paper (MODELS.md section 4) as a preset.

Owns: the one registry of named models: id, name, region, source, parameters, a two-line
description and the interpretation made where sources are vague. Must not: run anything.
"""

from __future__ import annotations

from typing import Any

from tsodso.coordination.mechanism import ALL_NEEDS, Mechanism, ModelPreset
from tsodso.scenario.config import ScenarioConfig

_SRC = {
    "smartnet": "SmartNet project, TSO-DSO coordination schemes (Gerard et al., 2018)",
    "coordinet": "CoordiNet / OneNet market models (CoordiNet D6.1, OneNet D3.1)",
    "ena": "ENA Open Networks, Future Worlds impact assessment (2019)",
    "oen": "AEMO / Energy Networks Australia, Open Energy Networks (2019-2020)",
    "ferc": "FERC Order 2222 coordination models, as reviewed in the seed paper",
    "gridworks": "Gridworks / LBNL, California DSO models (De Martini and Kristov, 2015)",
    "ieso": "IESO (Ontario), Exploring Expanded DER Participation (2019)",
}


def _m(
    op: str,
    seq: str,
    dc: str,
    path: str,
    prio: str,
    iface: str,
    label: str = "",
    **kw: Any,
) -> Mechanism:
    return Mechanism(
        operator=op,  # type: ignore[arg-type]
        sequence=seq,  # type: ignore[arg-type]
        d_constraints=dc,  # type: ignore[arg-type]
        d_path=path,  # type: ignore[arg-type]
        priority=prio,  # type: ignore[arg-type]
        interface=iface,  # type: ignore[arg-type]
        operator_label=label or op,
        **kw,
    )


_WITH_COMMERCIAL = (*ALL_NEEDS, "commercial")

_ROWS: list[tuple[str, str, str, str, str, Mechanism, str]] = [
    # id, name, region, source key, description, mechanism, interpretation
    (
        "smartnet-a",
        "SmartNet A: Centralized AS market",
        "EU",
        "smartnet",
        "The TSO clears one ancillary-services market with every resource, distribution ones "
        "included, using only its transmission model; distribution limits are not checked.",
        _m("tso", "single", "none", "direct", "tso", "none"),
        "",
    ),
    (
        "smartnet-b",
        "SmartNet B: Local AS market",
        "EU",
        "smartnet",
        "Each DSO first clears a local market for its own needs; the remaining distribution "
        "bids reach the TSO aggregated into one cost curve per TDI.",
        _m(
            "separate",
            "dso_then_tso",
            "interface_aggregate",
            "aggregated",
            "dso",
            "curve",
            "dso+tso",
        ),
        "",
    ),
    (
        "smartnet-c",
        "SmartNet C: Shared balancing responsibility",
        "EU",
        "smartnet",
        "The DSO keeps each TDI on an agreed exchange schedule using distribution resources "
        "only; the TSO balances with transmission resources only.",
        _m("separate", "parallel", "full", "schedule", "dso", "schedule"),
        "",
    ),
    (
        "smartnet-d",
        "SmartNet D: Common TSO-DSO AS market (centralised)",
        "EU",
        "smartnet",
        "One common market operator clears TSO and DSO needs jointly with both grid models; "
        "least total cost decides who gets a resource.",
        _m("joint", "joint", "full", "platform", "least_cost", "joint"),
        "",
    ),
    (
        "smartnet-d-decentralised",
        "SmartNet D: Common TSO-DSO AS market (decentralised)",
        "EU",
        "smartnet",
        "TSO and DSOs each clear their own market and agree on interface flows by exchanging "
        "prices until they converge to the common optimum.",
        _m("separate", "iterative", "full", "platform", "least_cost", "priced_flow"),
        "Implemented as Benders decomposition on the TDI exchanges (price-based, as ADMM).",
    ),
    (
        "smartnet-e",
        "SmartNet E: Integrated flexibility market",
        "EU",
        "smartnet",
        "An independent operator clears SO and commercial needs in one market; contested "
        "resources go to the highest-valued use.",
        _m(
            "independent",
            "joint",
            "full",
            "platform",
            "highest_value",
            "joint",
            needs=_WITH_COMMERCIAL,
        ),
        "d_constraints = full: the independent operator receives both grid models.",
    ),
    (
        "coordinet-central",
        "CoordiNet: Central market",
        "EU",
        "coordinet",
        "The TSO clears one market; the DSO publishes a per-interval traffic light from its "
        "forecast power flow that blocks bids which would worsen distribution congestion.",
        _m("tso", "single", "traffic_light", "direct", "tso", "none"),
        "",
    ),
    (
        "coordinet-local",
        "CoordiNet: Local market",
        "EU",
        "coordinet",
        "The DSO runs a local market for its own needs only; distribution resources do not "
        "reach the TSO, which uses transmission-connected resources.",
        _m("dso", "single", "full", "none", "dso", "none"),
        "d_path = none: local bids are not forwarded to the TSO.",
    ),
    (
        "coordinet-common",
        "CoordiNet: Common market",
        "EU",
        "coordinet",
        "TSO and DSO procure together in one market with both grid models, least cost.",
        _m("joint", "joint", "full", "platform", "least_cost", "joint"),
        "",
    ),
    (
        "coordinet-integrated",
        "CoordiNet: Integrated market",
        "EU",
        "coordinet",
        "One market for SOs and commercial parties run by an independent operator; contested "
        "resources go to the highest-valued use.",
        _m(
            "independent",
            "joint",
            "full",
            "platform",
            "highest_value",
            "joint",
            needs=_WITH_COMMERCIAL,
        ),
        "d_constraints = full, as for SmartNet E.",
    ),
    (
        "coordinet-multi-level",
        "CoordiNet: Multi-level market",
        "EU",
        "coordinet",
        "The DSO clears first; distribution bids that passed a static grid prequalification "
        "and were not used locally are forwarded unchanged to the TSO market.",
        _m("separate", "dso_then_tso", "static_prequal", "residual", "dso", "curve", "dso+tso"),
        "",
    ),
    (
        "coordinet-fragmented",
        "CoordiNet: Fragmented market",
        "EU",
        "coordinet",
        "TSO and DSO each buy only from resources in their own grid; nothing is exchanged.",
        _m("separate", "parallel", "full", "none", "dso", "none"),
        "",
    ),
    (
        "coordinet-distributed",
        "CoordiNet: Distributed market",
        "EU",
        "coordinet",
        "Peer markets of TSO and DSOs agree on interface exchanges by price iterations.",
        _m("separate", "iterative", "full", "platform", "least_cost", "priced_flow"),
        "Implemented as Benders decomposition on the TDI exchanges (price-based, as ADMM).",
    ),
    (
        "future-worlds-a",
        "ENA Future World A: DSO coordinates",
        "GB",
        "ena",
        "DSOs run local markets and pass the remaining flexibility to the ESO as one offer "
        "curve per grid supply point.",
        _m(
            "separate",
            "dso_then_tso",
            "interface_aggregate",
            "aggregated",
            "dso",
            "curve",
            "dso+tso",
        ),
        "",
    ),
    (
        "future-worlds-b",
        "ENA Future World B: Coordinated DSO-ESO procurement",
        "GB",
        "ena",
        "DSO and ESO procure jointly through a coordinated platform with both network models.",
        _m("joint", "joint", "full", "platform", "least_cost", "joint"),
        "",
    ),
    (
        "future-worlds-c",
        "ENA Future World C: Price-driven flexibility",
        "GB",
        "ena",
        "No explicit procurement: DERs respond to dynamic network prices (DLMP-like tariffs) "
        "computed by the DSO.",
        _m("idso", "implicit", "full", "implicit", "dso", "priced_flow", "idso / none"),
        "The paper reads C as an independent DSO; ENA defines it as price-driven. We follow "
        "ENA: DERs self-dispatch against a published network price.",
    ),
    (
        "future-worlds-d",
        "ENA Future World D: ESO coordinates",
        "GB",
        "ena",
        "The ESO procures all flexibility, distribution included, with DSO-set limits per "
        "interval (traffic light).",
        _m("tso", "single", "traffic_light", "direct", "tso", "none"),
        "",
    ),
    (
        "future-worlds-e",
        "ENA Future World E: Flexibility coordinators",
        "GB",
        "ena",
        "A neutral flexibility coordinator clears ESO and DSO needs in one market.",
        _m("independent", "joint", "full", "platform", "least_cost", "joint"),
        "",
    ),
    (
        "oen-single-integrated-platform",
        "OpEN: Single Integrated Platform",
        "AU",
        "oen",
        "AEMO runs one platform that clears wholesale and distribution services with "
        "network models from the DNSPs.",
        _m("independent", "joint", "full", "platform", "least_cost", "joint", "independent (AEMO)"),
        "",
    ),
    (
        "oen-two-step-tiered",
        "OpEN: Two-Step Tiered Platform",
        "AU",
        "oen",
        "DNSPs clear local services first with their full network model, then aggregate what "
        "remains and pass it to AEMO.",
        _m(
            "separate",
            "dso_then_tso",
            "interface_aggregate",
            "aggregated",
            "dso",
            "curve",
            "dso+tso",
        ),
        "'full then aggregate' read as interface_aggregate.",
    ),
    (
        "oen-independent-dso",
        "OpEN: Independent DSO",
        "AU",
        "oen",
        "An independent distribution market operator clears local services and passes an "
        "aggregated offer per connection point to AEMO.",
        _m("idso", "dso_then_tso", "full", "aggregated", "dso", "curve", "idso+tso"),
        "",
    ),
    (
        "oen-hybrid",
        "OpEN: Hybrid (AEMO clears, DNSP sets DOEs)",
        "AU",
        "oen",
        "AEMO clears all bids centrally; each DNSP publishes dynamic operating envelopes that "
        "clip distribution bids before clearing.",
        _m("independent", "single", "doe", "direct", "tso", "none", "independent (AEMO)"),
        "",
    ),
    (
        "ferc-tso",
        "FERC 2222: TSO model",
        "NA",
        "ferc",
        "The RTO/ISO dispatches aggregations directly with no distribution coordination.",
        _m("tso", "single", "none", "direct", "tso", "none"),
        "",
    ),
    (
        "ferc-dso",
        "FERC 2222: DSO model",
        "NA",
        "ferc",
        "The distribution utility clears its needs first and offers the residual DER bids to "
        "the RTO.",
        _m("separate", "dso_then_tso", "full", "residual", "dso", "curve", "dso+tso"),
        "",
    ),
    (
        "ferc-hybrid",
        "FERC 2222: Hybrid TSO-DSO model",
        "NA",
        "ferc",
        "RTO and utility both dispatch DERs, each for its own needs; conflicts are settled by a "
        "rule.",
        _m("separate", "parallel", "full", "direct", "dso", "none"),
        "Parallel markets split by need; conflicts by conflict_rule (default dso_override).",
    ),
    (
        "ferc-common",
        "FERC 2222: Common TSO-DSO model",
        "NA",
        "ferc",
        "One common platform clears RTO and utility needs together, allocating by priority.",
        _m("joint", "joint", "full", "platform", "dso", "joint"),
        "Priority weights: distribution needs first (priority = dso).",
    ),
    (
        "gridworks-total-tso",
        "Gridworks: Total TSO",
        "NA",
        "gridworks",
        "The ISO optimises transmission and distribution together down to each DER.",
        _m("tso", "joint", "full", "direct", "least_cost", "joint"),
        "",
    ),
    (
        "gridworks-total-dso",
        "Gridworks: Total DSO",
        "NA",
        "gridworks",
        "Each DSO optimises its area and presents one aggregated offer per T-D interface to "
        "the ISO.",
        _m(
            "separate",
            "dso_then_tso",
            "interface_aggregate",
            "aggregated",
            "dso",
            "curve",
            "dso+tso",
        ),
        "'full then aggregate' read as interface_aggregate.",
    ),
    (
        "gridworks-idso",
        "Gridworks: Independent DSO",
        "NA",
        "gridworks",
        "An independent distribution operator runs the distribution market and offers "
        "aggregated curves to the ISO.",
        _m("idso", "dso_then_tso", "full", "aggregated", "dso", "curve", "idso+tso"),
        "",
    ),
    (
        "gridworks-hybrid-a",
        "Gridworks: Hybrid A (status quo)",
        "NA",
        "gridworks",
        "The ISO market and utility DER programmes run side by side; DERs are prequalified "
        "statically for ISO participation.",
        _m(
            "separate",
            "parallel",
            "static_prequal",
            "direct",
            "tso",
            "none",
            "tso + utility programmes",
        ),
        "",
    ),
    (
        "gridworks-hybrid-b",
        "Gridworks: Hybrid B (better distribution services)",
        "NA",
        "gridworks",
        "ISO and DSO markets in parallel, not layered; the DSO publishes traffic lights.",
        _m("separate", "parallel", "traffic_light", "direct", "dso", "none", "tso + dso"),
        "priority = dso; conflicts by conflict_rule (default dso_override).",
    ),
    (
        "gridworks-hybrid-c",
        "Gridworks: Hybrid C (independent distribution operator)",
        "NA",
        "gridworks",
        "ISO and an independent distribution operator run parallel markets with traffic lights.",
        _m("idso", "parallel", "traffic_light", "direct", "dso", "none", "tso + idso"),
        "priority = dso; conflicts by conflict_rule (default dso_override).",
    ),
    (
        "ieso-total-tso",
        "IESO: Total TSO",
        "NA",
        "ieso",
        "The IESO dispatches DERs with full visibility of the distribution grid.",
        _m("tso", "joint", "full", "direct", "least_cost", "joint"),
        "",
    ),
    (
        "ieso-total-dso",
        "IESO: Total DSO",
        "NA",
        "ieso",
        "Each LDC clears its area and submits one aggregated bid per T-D interface to the IESO.",
        _m(
            "separate",
            "dso_then_tso",
            "interface_aggregate",
            "aggregated",
            "dso",
            "curve",
            "dso+tso",
        ),
        "'full then aggregate' read as interface_aggregate.",
    ),
]

CATALOGUE: dict[str, ModelPreset] = {
    r[0]: ModelPreset(
        id=r[0],
        name=r[1],
        region=r[2],
        source=_SRC[r[3]],
        description=r[4],
        mechanism=r[5],
        interpretation=r[6],
    )
    for r in _ROWS
}


def get_model(model_id: str) -> ModelPreset:
    """The preset with this id; KeyError names the known ids."""
    try:
        return CATALOGUE[model_id]
    except KeyError:
        raise KeyError(f"unknown model {model_id!r}") from None


def models_for(cfg: ScenarioConfig) -> dict[str, ModelPreset]:
    """The catalogue plus the scenario's user-defined models ([models.ID] tables)."""
    out = dict(CATALOGUE)
    for mid, m in cfg.models.items():
        fields = m.model_dump(exclude={"name", "description"})
        fields["needs"] = tuple(fields["needs"])
        out[mid] = ModelPreset(
            id=mid,
            name=m.name or mid,
            region="user",
            source=f"scenario {cfg.name!r}",
            description=m.description or "user-defined point of the mechanism space",
            mechanism=Mechanism(**fields),
        )
    return out
