"""Scenario configuration: the declarative description of a scenario (grid, day, DER mix,
scaling, seed, penalties), its built-in presets, and loading it from TOML.

Owns: validation of user input into one ``ScenarioConfigError`` that lists every problem,
each naming its field: strict types (a boolean or a string is never read as a number),
finite numbers inside a range of meaning, cross-field rules (the window of the day, event
periods inside the scenario, fields an event kind does not take, the DSO's voltage margin
inside the band) and bounded sizes (aggregators, events, models) checked before anything is
allocated. Scenario files are read safely (``schema.files``) and their TOML nesting is
capped. Must not: build grids or touch data (see ``scenario.build``, which checks what
needs the grid: outages together, the margin against the grid's own band), or import
anything of tsodso but the rest of ``schema``.

Ranges. Where a field's range is not physics (a share in 0..1, a voltage band around
1 pu), its upper bound is an assumption of this module: a value beyond it describes no
scenario the models are meant for (e.g. renewables scaled beyond x10) and would only test
the solver's numerics. Each such bound is in the field's description.
"""

from __future__ import annotations

import hashlib
import json
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
    model_validator,
)

from tsodso.schema.actors import DSO_NAME
from tsodso.schema.files import MAX_SCENARIO_BYTES, InputFileError, read_input_text
from tsodso.schema.mechanism import UserModel

#: deepest nesting of arrays and tables a scenario file may have (a valid one has 4)
MAX_TOML_DEPTH = 8
#: most aggregators a scenario may have (an assumption: the default grid has 2,915 DERs)
MAX_AGGREGATORS = 1000
#: most real-time events and user-defined models in one scenario
MAX_EVENTS = 50
MAX_MODELS = 100
#: most DSOs a ``[dsos]`` table may name (an assumption: the default grid has 18 feeders)
MAX_DSOS = 1000
#: a user model's id: selectable with ``--models`` (no comma or space), never ``all``
MODEL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class ScenarioConfigError(ValueError):
    """A scenario description is invalid; ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid scenario {source}: {len(problems)} problem(s)\n{lines}")


def _text(max_len: int, empty: bool = True) -> Any:
    def check(value: str) -> str:
        if not empty and not value.strip():
            raise ValueError("expected a non-empty text")
        if len(value) > max_len:
            raise ValueError(f"{len(value)} characters, expected at most {max_len}")
        if _CONTROL.search(value):
            raise ValueError("contains a control character")
        return value

    return AfterValidator(check)


# strict scalars: a bool or a string is never read as a number, an int is a float
Num = StrictFloat
Int = StrictInt
Name = Annotated[StrictStr, _text(100, empty=False)]
Text = Annotated[StrictStr, _text(200)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class DerMix(_Strict):
    """Which DERs a scenario has besides the grid's own generators (all offer flexibility)."""

    curtailable_generation: StrictBool = Field(
        True, description="every distribution- and HV-connected static generator offers flexibility"
    )
    transmission_flex_share: Num = Field(
        1.0,
        ge=0,
        le=1,
        description="share of transmission-connected generators that offer flexibility "
        "(a seeded draw; 1 = all)",
    )
    battery_share: Num = Field(0.25, ge=0, le=1, description="share of load nodes with a battery")
    battery_mw: Num = Field(
        0.4, gt=0, le=100, description="battery power per site (MW; at most 100, an assumption)"
    )
    battery_hours: Num = Field(
        2.0, gt=0, le=24, description="battery energy / power (h; at most a day)"
    )
    ev_share: Num = Field(0.2, ge=0, le=1, description="share of load nodes with an EV hub")
    ev_mw: Num = Field(
        0.3, gt=0, le=10, description="EV hub charging power (MW; at most 10, an assumption)"
    )
    flex_load_share: Num = Field(
        0.3, ge=0, le=1, description="share of loads that offer part of their demand"
    )
    flex_load_fraction: Num = Field(
        0.2, gt=0, le=1, description="fraction of a flexible load's demand it can move"
    )


class Penalties(_Strict):
    """Prices of unmet needs (EUR): slack variables, reported as unresolved-need KPIs.
    Upper bounds are assumptions that keep the markets' LPs well scaled (bid prices are
    tens of EUR/MWh)."""

    imbalance_eur_per_mwh: Num = Field(
        3000.0, gt=0, le=1e5, description="value of lost load (at most 1e5)"
    )
    overload_eur_per_mwh: Num = Field(
        2000.0, gt=0, le=1e5, description="branch flow above rating (at most 1e5)"
    )
    voltage_eur_per_pu2h: Num = Field(
        2.0e5, gt=0, le=1e8, description="squared-voltage band violation (pu^2 per hour; <= 1e8)"
    )
    reserve_eur_per_mwh: Num = Field(
        150.0,
        gt=0,
        le=1e5,
        description="the TSO's balancing reserves, for the imbalance the DERs' own forecast "
        "error adds beyond what the markets left of their need (assumption: the order of "
        "European aFRR/mFRR energy prices; at most 1e5)",
    )


class Registration(_Strict):
    """Product prequalification rules (one flexibility product, MODELS.md section 5) and the
    registration data the scenario gives DERs that the grid data does not have."""

    min_unit_mw: Num = Field(
        0.005, ge=0, le=100, description="smallest unit that can register (nameplate MW)"
    )
    full_activation_min: Num = Field(
        15.0, gt=0, le=60, description="full activation time of the product (minutes)"
    )
    min_duration_h: Num = Field(
        0.5, ge=0, le=24, description="storage must sustain full power this long (h)"
    )
    interval_meter_share: Num = Field(
        0.95,
        ge=0,
        le=1,
        description="share of flexible loads and EV hubs with a 15-minute interval meter "
        "(generators and batteries always have one); units without are rejected",
    )


class Delivery(_Strict):
    """How activations are delivered in real time (seeded; the same for every model)."""

    forecast_error_std: Num = Field(
        0.05,
        ge=0,
        le=1,
        description="relative std. dev. of the real baseline of renewables and flexible loads "
        "against their nominated schedule",
    )
    forecast_error_corr: Num = Field(
        0.9, ge=0, lt=1, description="AR(1) coefficient of that error per quarter-hour"
    )
    non_delivery_probability: Num = Field(
        0.02, ge=0, le=1, description="probability that a DER delivers none of its activations"
    )
    rebound_fraction: Num = Field(
        0.5,
        ge=0,
        le=2,
        description="energy a flexible load consumes after an up activation, per MWh reduced",
    )
    rebound_periods: Int = Field(4, ge=1, le=96, description="quarter-hours the rebound lasts")


class Settlement(_Strict):
    """How delivered flexibility is measured and paid."""

    baseline: Literal["nominated", "historical", "mbma"] = Field(
        "nominated", description="baseline that measures delivery for payment"
    )
    history_days: Int = Field(10, ge=1, le=60, description="Y of the historical X-of-Y baseline")
    x_of_y: Int = Field(4, ge=1, le=60, description="X of the historical X-of-Y baseline")
    availability_eur_per_mw_h: Num = Field(
        0.0, ge=0, le=1e4, description="availability payment per MW activated per hour (<= 1e4)"
    )
    penalty_factor: Num = Field(
        1.5,
        ge=0,
        le=100,
        description="non-delivery penalty: factor x bid price x MWh not delivered (<= 100)",
    )

    @model_validator(mode="after")
    def _x_le_y(self) -> Settlement:
        if self.x_of_y > self.history_days:
            raise ValueError(
                f"x_of_y = {self.x_of_y}: expected at most history_days = {self.history_days}"
            )
        return self


class Reservation(_Strict):
    """Flexibility reserved day-ahead and activated in real time (``stages = 'reserve_rt'``,
    ``operation.stages``): the day-ahead clearing reserves capacity (an option on the bid,
    paid per MW and hour whether activated or not), real time activates reserved and free
    bids at their energy prices against what really happens. Separating reservation from
    utilisation is the practice of NODES, Piclo Flex, GOPACS and ENA's standard
    flexibility products; the figures are assumptions."""

    price_eur_per_mw_h: Num = Field(
        5.0,
        ge=0,
        le=1e4,
        description="availability price of reserved capacity (EUR per MW per hour; an "
        "assumption of the order of GB DSO flexibility tenders' availability prices)",
    )
    free_bid_share: Num = Field(
        0.5,
        ge=0,
        le=1,
        description="share of a bid's unreserved capacity still offered in real time (an "
        "assumption: aggregators sell or self-balance the rest in intraday markets; "
        "reserved capacity is always offered)",
    )


class Commercial(_Strict):
    """Balance responsible parties (one per aggregator's portfolio) and their positions: a
    share of the TSO's imbalance is theirs. Where a model's market serves ``commercial``
    needs, a BRP closes its position there when the market's price is worth it (synthetic
    values, labelled so: the imbalance price a BRP expects to avoid)."""

    brp_share_of_imbalance: Num = Field(
        0.5, ge=0, le=1, description="share of the TSO imbalance that is open BRP positions"
    )
    value_low_eur_per_mwh: Num = Field(
        40.0, ge=0, le=1e4, description="lowest value a BRP puts on closing its position (EUR/MWh)"
    )
    value_high_eur_per_mwh: Num = Field(
        150.0,
        ge=0,
        le=1e4,
        description="highest such value (EUR/MWh); values drawn between the two",
    )

    @model_validator(mode="after")
    def _range(self) -> Commercial:
        if self.value_high_eur_per_mwh < self.value_low_eur_per_mwh:
            raise ValueError(
                f"value_high_eur_per_mwh = {self.value_high_eur_per_mwh} is below "
                f"value_low_eur_per_mwh = {self.value_low_eur_per_mwh}"
            )
        return self


class Wholesale(_Strict):
    """The day-ahead wholesale market that sets the DER schedules the flexibility markets
    start from (``scenario.wholesale``). A zonal clearing: the scenario's grid is one
    bidding zone whose net import is priced by a synthetic merit-order curve, linear
    between ``price_low_eur_per_mwh`` at the day's largest net export (or smallest import)
    and ``price_high_eur_per_mwh`` at its smallest (the zone's residual demand before the
    aggregators' scheduling), extended linearly beyond. The defaults are an assumption of
    the order of 2016 German day-ahead prices (EPEX Spot DE/AT: an annual mean about 29
    EUR/MWh, summer days spreading 15-45 EUR/MWh); the prices are synthetic and labelled
    so. The zone is ``zone_scale`` times the grid. Batteries and EV hubs are scheduled
    against the price by their aggregators;
    renewables, generators and loads are price takers at their profiles."""

    market: Literal["day_ahead", "none"] = Field(
        "day_ahead",
        description="'day_ahead': a wholesale clearing schedules batteries and EV hubs "
        "before the flexibility markets; 'none': they keep a flat nomination (batteries idle, "
        "EVs charge at full power on arrival)",
    )
    price_low_eur_per_mwh: Num = Field(
        15.0, ge=-500, le=4000, description="price at the day's lowest residual demand (EUR/MWh)"
    )
    price_high_eur_per_mwh: Num = Field(
        45.0, ge=-500, le=4000, description="price at the day's highest residual demand (EUR/MWh)"
    )

    zone_scale: Num = Field(
        40.0,
        ge=1,
        le=1e4,
        description="the bidding zone's residual demand as a multiple of the grid's (its "
        "shape is the grid's): the grid's own batteries and EV hubs move the zone's price "
        "that much less (an assumption: Germany's peak load, about 80 GW, over the default "
        "grid's, about 2 GW)",
    )
    battery_cycle_cost_eur_per_mwh: Num = Field(
        5.0,
        ge=0,
        le=1e3,
        description="ageing cost a battery's aggregator puts on each MWh it discharges "
        "(EUR/MWh; an assumption at the low end of the cycle-ageing costs of Xu et al., IEEE "
        "Trans. Power Syst. 33(2), 2018): no cycling for a spread that does not pay for it",
    )
    imbalance_spread_eur_per_mwh: Num = Field(
        20.0,
        ge=0,
        le=1e4,
        description="a short BRP pays the wholesale price plus this, a long one is paid the "
        "price minus this (EUR/MWh; dual imbalance pricing, an assumption)",
    )

    @model_validator(mode="after")
    def _range(self) -> Wholesale:
        if self.price_high_eur_per_mwh < self.price_low_eur_per_mwh:
            raise ValueError(
                f"price_high_eur_per_mwh = {self.price_high_eur_per_mwh} is below "
                f"price_low_eur_per_mwh = {self.price_low_eur_per_mwh}"
            )
        return self


EventKind = Literal["line_outage", "trafo_outage", "forecast_error", "message_loss"]
_FIELDS_OF: dict[str, tuple[str, ...]] = {
    "forecast_error": ("magnitude", "feeder"),
    "message_loss": ("sender", "receiver"),
}
#: who may send or receive a lost real-time instruction: a role (every actor of it) or a
#: DSO's name; a receiver may also be an aggregator (``dera-N``, checked against the count)
_LOSS_ROLES = ("TSO", "DSO", "MO")
_AGGREGATOR = re.compile(r"dera-([1-9][0-9]*)")


class Event(_Strict):
    """Something that happens in real time, after the markets cleared. An outage or a
    forecast error switches the operators to contingency rules in its periods
    (``operation.contingency``); a message loss drops the real-time instructions from
    ``sender`` to ``receiver`` in its periods, which each receiver then handles as its
    model's protocol says (``on_lost_message``)."""

    kind: EventKind
    element: Int | None = Field(
        None,
        ge=0,
        description="pandapower index of the line or transformer that trips (outages)",
    )
    first_period: Int = Field(0, ge=0, le=95, description="first period (scenario index)")
    last_period: Int | None = Field(
        None, ge=0, le=95, description="last period, inclusive (default: the end of the scenario)"
    )
    magnitude: Num = Field(
        0.3,
        ge=-1,
        le=5,
        description="forecast_error: relative deviation of real renewable output",
    )
    feeder: Text = Field("", description="forecast_error: only this feeder ('' = everywhere)")
    sender: Text = Field(
        "",
        description="message_loss: whose instructions are lost: 'TSO', 'DSO' (every DSO), "
        "'MO' (the platform) or one DSO's name",
    )
    receiver: Text = Field(
        "",
        description="message_loss: only those to this receiver ('' = every receiver): a "
        "role as for sender, a DSO's name or an aggregator's (dera-N)",
    )

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Event:
        problems = []
        outage = self.kind in ("line_outage", "trafo_outage")
        if outage and self.element is None:
            problems.append(f"element: kind = {self.kind!r} needs a pandapower index")
        if not outage and self.element is not None:
            hint = " (use 'feeder')" if self.kind == "forecast_error" else ""
            problems.append(f"element: kind = {self.kind!r} takes no element{hint}")
        for kind, fields in _FIELDS_OF.items():
            if self.kind != kind:
                problems += [
                    f"{f}: kind = {self.kind!r} takes no {f} ({kind} only)"
                    for f in fields
                    if f in self.model_fields_set
                ]
        if self.kind == "message_loss":
            if not self.sender:
                problems.append(
                    "sender: kind = 'message_loss' needs a sender ('TSO', 'DSO', 'MO' or a "
                    "DSO's name)"
                )
            elif self.sender not in _LOSS_ROLES and not DSO_NAME.fullmatch(self.sender):
                problems.append(
                    f"sender = {self.sender!r}: expected 'TSO', 'DSO', 'MO' or a DSO's name "
                    "('DSO-...')"
                )
            r = self.receiver
            if (
                r
                and r not in _LOSS_ROLES
                and not DSO_NAME.fullmatch(r)
                and not _AGGREGATOR.fullmatch(r)
            ):
                problems.append(
                    f"receiver = {r!r}: expected '' (any), 'TSO', 'DSO', 'MO', a DSO's name "
                    "('DSO-...') or an aggregator's ('dera-N')"
                )
            if r and r == self.sender:
                problems.append(f"receiver = {r!r}: the same as the sender")
        if self.last_period is not None and self.last_period < self.first_period:
            problems.append(
                f"last_period = {self.last_period}: expected >= first_period = {self.first_period}"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self


class FeederCoupling(_Strict):
    """Distribution feeders attached to a transmission case without distribution grids
    ([feeders] table): each replaces the load of one transmission bus (``grids.couple``)."""

    grid: Annotated[StrictStr, _text(200, empty=False)] = Field(
        "simbench:1-MV-rural--0-sw",
        description="feeder grid: 'simbench:CODE' of an MV grid (with its profiles) or "
        "'pandapower:create_cigre_network_mv' (flat at its nominal loads)",
    )
    buses: tuple[Annotated[Int, Field(ge=0)], ...] = Field(
        (),
        max_length=100,
        description="pandapower indices of the load buses to attach at (default: the "
        "``count`` largest load buses)",
    )
    count: Int = Field(
        3, ge=1, le=100, description="how many of the largest load buses get a feeder"
    )


class ScenarioConfig(_Strict):
    """A scenario: a grid, a day of profiles and the DERs and needs on it."""

    name: Name = "default"
    grid: Annotated[StrictStr, _text(4096, empty=False)] = Field(
        "simbench:1-HVMV-mixed-all-0-sw",
        description="'simbench:CODE', 'pandapower:CASE', 'matpower:PATH' (a .m or .mat "
        "case, or 'matpower:case14' as shipped), 'cgmes:PATH[,PATH...]' (CGMES 2.4.15 .zip "
        "or .xml files, or folders of them), or a path to a pandapower .json net",
    )
    feeders: FeederCoupling | None = Field(
        None, description="distribution feeders to attach to a transmission case ([feeders])"
    )
    day: Int = Field(224, ge=0, le=365, description="day of 2016 (0 = 1 January)")
    periods: Int = Field(96, ge=1, le=96, description="quarter-hours from the first one")
    first_period: Int = Field(0, ge=0, le=95, description="first quarter-hour of the day")
    seed: Int = Field(7, ge=0, le=2**63 - 1, description="seed of every random draw")
    renewable_scale: Num = Field(
        1.0, gt=0, le=10, description="factor on every generator profile (at most 10)"
    )
    load_scale: Num = Field(
        1.0, gt=0, le=10, description="factor on every load profile (at most 10)"
    )
    t_rating_scale: Num = Field(
        1.0, gt=0, le=100, description="factor on transmission line ratings (at most 100)"
    )
    t_line_derate: dict[str, Num] = Field(
        default_factory=dict,
        max_length=1000,
        description="further factor on single transmission lines, by pandapower line index "
        '(e.g. a dynamic rating or a line in maintenance): {"1286" = 0.9}',
    )
    d_rating_scale: Num = Field(
        1.0, gt=0, le=100, description="factor on distribution line ratings (at most 100)"
    )
    transmission_min_kv: Num = Field(
        60.0, gt=0, le=1000, description="nodes at or above are TSO grid (kV)"
    )
    d_vmin_pu: Num | None = Field(
        None, gt=0.5, lt=1.0, description="distribution voltage band, lower (default: grid's)"
    )
    d_vmax_pu: Num | None = Field(
        None, gt=1.0, lt=1.5, description="distribution voltage band, upper (default: grid's)"
    )
    t_vmin_pu: Num | None = Field(
        None, gt=0.5, lt=1.0, description="transmission voltage band, lower (default: grid's)"
    )
    t_vmax_pu: Num | None = Field(
        None, gt=1.0, lt=1.5, description="transmission voltage band, upper (default: grid's)"
    )
    d_voltage_margin_pu: Num = Field(
        0.005, ge=0, le=0.05, description="DSO security margin inside the voltage band (pu)"
    )
    imbalance_std_mw: Num = Field(
        25.0, ge=0, le=1e4, description="std. dev. of the TSO imbalance (MW; at most 1e4)"
    )
    aggregators: Int = Field(
        4, ge=1, le=MAX_AGGREGATORS, description="number of aggregators (DERAs)"
    )
    ders: DerMix = DerMix()
    penalties: Penalties = Penalties()
    registration: Registration = Registration()
    delivery: Delivery = Delivery()
    settlement: Settlement = Settlement()
    commercial: Commercial = Commercial()
    wholesale: Wholesale = Wholesale()
    reservation: Reservation = Reservation()
    events: tuple[Event, ...] = Field(
        (),
        max_length=MAX_EVENTS,
        description="real-time events ([[events]] tables): outages, forecast errors",
    )
    dsos: Literal["substation", "one"] | dict[str, list[str]] = Field(
        "substation",
        description="who owns the distribution feeders: 'substation' (one DSO per HV/MV "
        "substation, named DSO-1, DSO-2...; an assumption, see grids.dso_areas), 'one' (a "
        "single DSO) or a [dsos] table of DSO names ('DSO' or 'DSO-...') to feeder ids, "
        'every feeder in exactly one: {"DSO-north" = ["MV1.101", "MV2.101"], ...}',
    )
    models: dict[Annotated[StrictStr, AfterValidator(lambda s: _model_id(s))], UserModel] = Field(
        default_factory=dict,
        max_length=MAX_MODELS,
        description="user-defined models, by id ([models.my-id] tables)",
    )

    @field_validator("dsos", mode="before")
    @classmethod
    def _dsos(cls, value: Any) -> Any:
        """Every problem of the ``dsos`` setting in one message, each line naming its DSO
        (the feeder ids are checked against the grid when the scenario is built)."""
        if isinstance(value, str) and value in ("substation", "one"):
            return value
        if not isinstance(value, dict):
            raise ValueError(f"expected 'substation', 'one' or a table, got {_shown(value)}")
        problems = []
        if not value:
            problems.append("expected at least one DSO in the table, got none")
        if len(value) > MAX_DSOS:
            problems.append(f"{len(value)} DSOs in the table, expected at most {MAX_DSOS}")
        for name, feeders in list(value.items())[: MAX_DSOS + 1]:
            try:
                _dso_id(name)
            except ValueError as err:
                problems.append(f"{name}: {err}")
            if not isinstance(feeders, list) or not feeders:
                problems.append(f"{name} = {_shown(feeders)}: expected a non-empty array")
                continue
            bad = [f for f in feeders if not isinstance(f, str) or not 0 < len(f) <= 100]
            if bad:
                shown = ", ".join(_shown(f) for f in bad[:5])
                problems.append(
                    f"{name}: expected feeder ids (text, 1-100 characters), got {shown}"
                )
        if problems:
            raise ValueError("\n".join(problems))
        return value

    @model_validator(mode="after")
    def _cross_fields(self) -> ScenarioConfig:
        problems = []
        if self.first_period + self.periods > 96:
            problems.append(
                f"periods = {self.periods}: first_period + periods = "
                f"{self.first_period + self.periods}, expected <= 96 (one day)"
            )
        for i, e in enumerate(self.events):
            if e.first_period >= self.periods:
                problems.append(
                    f"events[{i}].first_period = {e.first_period}: expected < periods = "
                    f"{self.periods} (a scenario index)"
                )
            if e.last_period is not None and e.last_period >= self.periods:
                problems.append(
                    f"events[{i}].last_period = {e.last_period}: expected < periods = "
                    f"{self.periods} (a scenario index)"
                )
            agg = _AGGREGATOR.fullmatch(e.receiver) if e.kind == "message_loss" else None
            if agg and int(agg.group(1)) > self.aggregators:
                problems.append(
                    f"events[{i}].receiver = {e.receiver!r}: no such aggregator (the scenario "
                    f"has dera-1 .. dera-{self.aggregators})"
                )
        lo, hi, m = self.d_vmin_pu, self.d_vmax_pu, self.d_voltage_margin_pu
        if lo is not None and hi is not None and hi - lo <= 2 * m:
            problems.append(
                f"d_voltage_margin_pu = {m}: leaves no band inside d_vmin_pu = {lo} .. "
                f"d_vmax_pu = {hi} (expected 2 x margin < the band's width)"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def digest(self) -> str:
        """Stable hash of the configuration's content (its name left out, so the same
        scenario in two files has one digest); identifies a scenario in manifests."""
        dump = self.model_dump(mode="json", exclude={"name"})
        for key in ("feeders", "t_vmin_pu", "t_vmax_pu"):
            if dump.get(key) is None:  # absent: digests of scenarios before them stay
                dump.pop(key, None)
        blob = json.dumps(dump, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _dso_id(name: str) -> str:
    if not DSO_NAME.fullmatch(name):
        raise ValueError(
            "expected a DSO name 'DSO' or 'DSO-' followed by 1-40 letters, digits, '_' or '-' "
            "(so that logs and ledgers tell every DSO apart and know it for a DSO)"
        )
    return name


def _model_id(mid: str) -> str:
    if not MODEL_ID.fullmatch(mid) or mid == "all":
        raise ValueError(
            "expected an id of letters, digits, '-', '_' or '.', starting with a letter or "
            "digit, at most 64 characters, not 'all' (so that --models can select it)"
        )
    return mid


# The isolating presets show one mechanism effect each: delivery there is perfect, so that
# what the AC check finds comes from the coordination model alone.
_PERFECT_DELIVERY = {
    "forecast_error_std": 0.0,
    "non_delivery_probability": 0.0,
    "rebound_fraction": 0.0,
}

# The events of the contingency preset: a 110 kV line and one of a TDI transformer pair
# trip and feeder MV1.104 sees 50 % more sun than forecast, in periods 2-5.
_CONTINGENCY_EVENTS: list[dict[str, Any]] = [
    {"kind": "line_outage", "element": 1319, "first_period": 2, "last_period": 5},
    {"kind": "trafo_outage", "element": 4, "first_period": 2, "last_period": 5},
    {
        "kind": "forecast_error",
        "feeder": "MV1.104",
        "magnitude": 0.5,
        "first_period": 2,
        "last_period": 5,
    },
]

PRESETS: dict[str, dict[str, Any]] = {
    # The default: the 110 kV meshed grid with 18 radial MV feeders on the sunny, windy
    # 12 August 2016; renewables scaled x1.3 (a 2030-like build-out) so that the baseline has
    # transmission congestion besides the native MV voltage problems.
    "default": {"name": "default", "renewable_scale": 1.3},
    # The same grid and day over 8 quarter-hours around noon: fast tests.
    "small": {"name": "small", "renewable_scale": 1.3, "periods": 8, "first_period": 44},
    # A MATPOWER transmission case coupled with distribution feeders (issue 17): IEEE case14
    # (shipped as a .m file) with a simbench rural MV grid, scaled to replace the load, at
    # each of its three largest load buses (2, 3, 8), over 4 quarter-hours around noon.
    # Renewables x2 so that the feeders have overloads and voltage problems at noon (at
    # x1.3 the baseline has none; case14's lines have no ratings).
    "case14-feeders": {
        "name": "case14-feeders",
        "grid": "matpower:case14",
        "feeders": {"grid": "simbench:1-MV-rural--0-sw", "count": 3},
        # case14's own band is 0.94..1.06 pu, but its generators hold buses 6 and 8 at 1.07
        # and 1.09 pu (the case's data): no model can move those, so the band is widened
        "t_vmax_pu": 1.1,
        "renewable_scale": 2.0,
        "periods": 4,
        "first_period": 44,
    },
    # The small preset with real-time events in its middle hour (periods 2-5): a 110 kV
    # line trips (its parallel path overloads), one of the two HV/MV transformers of feeder
    # MV1.104 trips and the sun there shines 50 % more than forecast. The operators switch
    # to the contingency rules (DSO override, TSO emergency curtailment).
    "contingency": {
        "name": "contingency",
        "renewable_scale": 1.3,
        "periods": 8,
        "first_period": 44,
        "events": _CONTINGENCY_EVENTS,
    },
    # The contingency preset with real-time instructions lost in periods 4-5 (issue 14 item
    # 5): every instruction the TSO sends and every one a DSO sends. Each model's receivers
    # handle the loss as its operating protocol says (on_lost_message).
    "contingency-lost-message": {
        "name": "contingency-lost-message",
        "renewable_scale": 1.3,
        "periods": 8,
        "first_period": 44,
        "events": [
            *_CONTINGENCY_EVENTS,
            {"kind": "message_loss", "sender": "TSO", "first_period": 4, "last_period": 5},
            {"kind": "message_loss", "sender": "DSO", "first_period": 4, "last_period": 5},
        ],
    },
    # Isolating presets (4 quarter-hours around noon), each showing one effect:
    # no distribution problem at all (wide MV band, ample ratings): central == joint;
    "no-d-congestion": {
        "name": "no-d-congestion",
        "delivery": _PERFECT_DELIVERY,
        "renewable_scale": 1.3,
        "periods": 4,
        "first_period": 46,
        "d_vmin_pu": 0.9,
        "d_vmax_pu": 1.12,
        "d_rating_scale": 2.0,
    },
    # heavy distribution congestion (more PV, halved MV ratings): raw forwarding breaches
    # limits, filtered and aggregated forwarding do not;
    "heavy-d-congestion": {
        "name": "heavy-d-congestion",
        "delivery": _PERFECT_DELIVERY,
        "renewable_scale": 1.3,
        "periods": 4,
        "first_period": 46,
        "d_rating_scale": 0.45,
    },
    # transmission congestion that distribution-connected flexibility relieves: the 110 kV
    # line 1286 (which PV export from feeders MV3.103, MV1.108 and MV2.102 loads) derated
    # to 65 %, only a fifth of the transmission-connected generators offering, no
    # distribution problem of its own (wide MV band, ample MV ratings);
    "t-congestion-d-flex": {
        "name": "t-congestion-d-flex",
        "delivery": _PERFECT_DELIVERY,
        "renewable_scale": 1.0,
        "periods": 4,
        "first_period": 46,
        "t_line_derate": {"1286": 0.65},
        "ders": {"transmission_flex_share": 0.2},
        "d_vmin_pu": 0.9,
        "d_vmax_pu": 1.12,
        "d_rating_scale": 2.0,
    },
    # every dimension at once (6 quarter-hours around noon): distribution congestion (MV
    # ratings halved, the native MV voltage problems), transmission congestion that
    # distribution flexibility relieves (line 1286 derated), few transmission-connected
    # offers so that distribution flexibility is contested by both SOs, commercial
    # positions; perfect delivery, so that what differs is the coordination model.
    "discriminating": {
        "name": "discriminating",
        "delivery": _PERFECT_DELIVERY,
        "renewable_scale": 1.0,
        "periods": 6,
        "first_period": 44,
        "t_line_derate": {"1286": 0.65},
        "ders": {"transmission_flex_share": 0.2},
        "d_rating_scale": 0.5,
    },
}


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if part == "[key]":  # a table's key (a model id) is what is wrong
            out += " (id)"
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _format_validation_error(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        where = _where(tuple(e["loc"]))
        if e["type"] == "value_error":  # our own cross-field rules: one problem per line,
            msg = str(e["ctx"]["error"]) if "ctx" in e else e["msg"]  # each names its field
            for line in msg.splitlines():
                field, sep, rest = line.partition(": ")
                named = field.split(" = ")[0]
                if sep and re.fullmatch(r"[\w.\[\]]+", named):
                    out.append(f"{where}.{line}" if where else line)
                else:
                    out.append(f"{where or '(top level)'}: {line}")
            continue
        val = e.get("input")
        shown = "" if isinstance(val, dict) else f" = {_shown(val)}"
        msg = e["msg"].replace("a valid tuple", "an array")  # TOML's word for it
        out.append(f"{where or '(top level)'}{shown}: {msg}")
    return out


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> ScenarioConfig:
    """Validate a mapping into a ScenarioConfig, raising ScenarioConfigError with every problem."""
    if not isinstance(data, dict):
        raise ScenarioConfigError(source, [f"expected a table of fields, got {_shown(data)}"])
    try:
        return ScenarioConfig.model_validate(data)
    except ValidationError as err:
        raise ScenarioConfigError(source, _format_validation_error(err)) from None


def _depth(value: Any, limit: int = MAX_TOML_DEPTH + 1) -> int:
    """Nesting depth of arrays and tables (iterative, and stops once past ``limit``: the
    parser may hand back more nesting than a recursive walk has stack for)."""
    deepest, level = 0, [value]
    while level and deepest < limit:
        inner: list[Any] = []
        for v in level:
            if isinstance(v, dict):
                inner.extend(v.values())
            elif isinstance(v, list):
                inner.extend(v)
        if not any(isinstance(v, dict | list) for v in level):
            break
        deepest += 1
        level = inner
    return deepest


def parse_scenario_toml(text: str, source: str) -> dict[str, Any]:
    """The table a scenario file's text holds; refused (``ScenarioConfigError``) when it is
    not TOML, nested deeper than ``MAX_TOML_DEPTH`` or empty."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ScenarioConfigError(source, [f"not valid TOML: {err}"]) from None
    except RecursionError:
        raise ScenarioConfigError(
            source, [f"not valid TOML here: nested deeper than {MAX_TOML_DEPTH} levels"]
        ) from None
    if _depth(data) > MAX_TOML_DEPTH:
        raise ScenarioConfigError(
            source, [f"arrays and tables nested deeper than {MAX_TOML_DEPTH} levels"]
        )
    if not data:
        raise ScenarioConfigError(
            source,
            [
                'the file sets nothing: write preset = "default" (or another preset: '
                f"{', '.join(PRESETS)}) to run a preset, and the fields to change"
            ],
        )
    return data


def load_config(spec: str) -> ScenarioConfig:
    """Resolve ``spec``: a preset name or a path to a TOML scenario file.

    A TOML file may set ``preset = "NAME"`` to start from a preset and override fields;
    without it, a file starts from the schema's defaults (which are not the ``default``
    preset). A file is read safely (a regular UTF-8 file of at most 1 MiB) and one that
    sets nothing is refused."""
    if not isinstance(spec, str):
        raise ScenarioConfigError(repr(spec), ["expected a preset name or a file path (text)"])
    if spec in PRESETS:
        return config_from_dict(PRESETS[spec], source=f"preset {spec!r}")
    shown = _shown(spec) if not spec.strip() else spec
    try:
        text = read_input_text(spec, MAX_SCENARIO_BYTES)
    except InputFileError as err:
        missing = str(err) in ("no such file",) or str(err).startswith("empty path")
        why = f"not a preset ({', '.join(sorted(PRESETS))}) and {err}" if missing else str(err)
        raise ScenarioConfigError(shown, [why]) from None
    path = Path(spec)
    data = parse_scenario_toml(text, str(path))
    base: dict[str, Any] = {}
    preset = data.pop("preset", None)
    if preset is not None:
        if not isinstance(preset, str) or preset not in PRESETS:
            raise ScenarioConfigError(
                str(path), [f"preset = {_shown(preset)}: expected one of {sorted(PRESETS)}"]
            )
        base = dict(PRESETS[preset])
    base["name"] = path.stem  # a file names its scenario unless it says otherwise
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return config_from_dict(base, source=str(path))
