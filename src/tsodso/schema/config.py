"""Scenario configuration: the declarative description of a scenario (grid, day, DER mix,
scaling, seed, penalties), its built-in presets, and loading it from TOML.

Owns: validation of user input into one ``ScenarioConfigError`` that lists every problem.
Must not: build grids or touch data (see ``scenario.build``), or import anything of tsodso
but the rest of ``schema``.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from tsodso.schema.mechanism import UserModel


class ScenarioConfigError(ValueError):
    """A scenario description is invalid; ``problems`` lists every problem found."""

    def __init__(self, source: str, problems: list[str]):
        self.source = source
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"invalid scenario {source}: {len(problems)} problem(s)\n{lines}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DerMix(_Strict):
    """Which DERs a scenario has besides the grid's own generators (all offer flexibility)."""

    curtailable_generation: bool = Field(
        True, description="every distribution- and HV-connected static generator offers flexibility"
    )
    transmission_flex_share: float = Field(
        1.0,
        ge=0,
        le=1,
        description="share of transmission-connected generators that offer flexibility "
        "(a seeded draw; 1 = all)",
    )
    battery_share: float = Field(0.25, ge=0, le=1, description="share of load nodes with a battery")
    battery_mw: float = Field(0.4, gt=0, description="battery power per site (MW)")
    battery_hours: float = Field(2.0, gt=0, description="battery energy / power (h)")
    ev_share: float = Field(0.2, ge=0, le=1, description="share of load nodes with an EV hub")
    ev_mw: float = Field(0.3, gt=0, description="EV hub charging power (MW)")
    flex_load_share: float = Field(
        0.3, ge=0, le=1, description="share of loads that offer part of their demand"
    )
    flex_load_fraction: float = Field(
        0.2, gt=0, le=1, description="fraction of a flexible load's demand it can move"
    )


class Penalties(_Strict):
    """Prices of unmet needs (EUR): slack variables, reported as unresolved-need KPIs."""

    imbalance_eur_per_mwh: float = Field(3000.0, gt=0, description="value of lost load")
    overload_eur_per_mwh: float = Field(2000.0, gt=0, description="branch flow above rating")
    voltage_eur_per_pu2h: float = Field(
        2.0e5, gt=0, description="squared-voltage band violation (pu^2 per hour)"
    )


class Registration(_Strict):
    """Product prequalification rules (one flexibility product, MODELS.md section 5) and the
    registration data the scenario gives DERs that the grid data does not have."""

    min_unit_mw: float = Field(
        0.005, ge=0, description="smallest unit that can register (nameplate MW)"
    )
    full_activation_min: float = Field(
        15.0, gt=0, le=60, description="full activation time of the product (minutes)"
    )
    min_duration_h: float = Field(
        0.5, ge=0, description="storage must sustain full power this long (h)"
    )
    interval_meter_share: float = Field(
        0.95,
        ge=0,
        le=1,
        description="share of flexible loads and EV hubs with a 15-minute interval meter "
        "(generators and batteries always have one); units without are rejected",
    )


class Delivery(_Strict):
    """How activations are delivered in real time (seeded; the same for every model)."""

    forecast_error_std: float = Field(
        0.05,
        ge=0,
        le=1,
        description="relative std. dev. of the real baseline of renewables and flexible loads "
        "against their nominated schedule",
    )
    forecast_error_corr: float = Field(
        0.9, ge=0, lt=1, description="AR(1) coefficient of that error per quarter-hour"
    )
    non_delivery_probability: float = Field(
        0.02, ge=0, le=1, description="probability that a DER delivers none of its activations"
    )
    rebound_fraction: float = Field(
        0.5,
        ge=0,
        le=2,
        description="energy a flexible load consumes after an up activation, per MWh reduced",
    )
    rebound_periods: int = Field(4, ge=1, le=96, description="quarter-hours the rebound lasts")


class Settlement(_Strict):
    """How delivered flexibility is measured and paid."""

    baseline: Literal["nominated", "historical", "mbma"] = Field(
        "nominated", description="baseline that measures delivery for payment"
    )
    history_days: int = Field(10, ge=1, le=60, description="Y of the historical X-of-Y baseline")
    x_of_y: int = Field(4, ge=1, description="X of the historical X-of-Y baseline")
    availability_eur_per_mw_h: float = Field(
        0.0, ge=0, description="availability payment per MW activated per hour"
    )
    penalty_factor: float = Field(
        1.5, ge=0, description="non-delivery penalty: factor x bid price x MWh not delivered"
    )

    @model_validator(mode="after")
    def _x_le_y(self) -> Settlement:
        if self.x_of_y > self.history_days:
            raise ValueError(f"x_of_y = {self.x_of_y} exceeds history_days = {self.history_days}")
        return self


class Commercial(_Strict):
    """Balance responsible parties (one per aggregator's portfolio) and their positions: a
    share of the TSO's imbalance is theirs. Where a model's market serves ``commercial``
    needs, a BRP closes its position there when the market's price is worth it (synthetic
    values, labelled so: the imbalance price a BRP expects to avoid)."""

    brp_share_of_imbalance: float = Field(
        0.5, ge=0, le=1, description="share of the TSO imbalance that is open BRP positions"
    )
    value_low_eur_per_mwh: float = Field(
        40.0, ge=0, description="lowest value a BRP puts on closing its position (EUR/MWh)"
    )
    value_high_eur_per_mwh: float = Field(
        150.0, ge=0, description="highest such value (EUR/MWh); values drawn between the two"
    )

    @model_validator(mode="after")
    def _range(self) -> Commercial:
        if self.value_high_eur_per_mwh < self.value_low_eur_per_mwh:
            raise ValueError(
                f"value_high_eur_per_mwh = {self.value_high_eur_per_mwh} is below "
                f"value_low_eur_per_mwh = {self.value_low_eur_per_mwh}"
            )
        return self


class Event(_Strict):
    """Something that happens in real time, after the markets cleared, and switches the
    operators to contingency rules in its periods (``operation.contingency``)."""

    kind: Literal["line_outage", "trafo_outage", "forecast_error"]
    element: int | None = Field(
        None, description="pandapower index of the line or transformer that trips (outages)"
    )
    first_period: int = Field(0, ge=0, description="first period of the event (scenario index)")
    last_period: int | None = Field(
        None, ge=0, description="last period, inclusive (default: the end of the scenario)"
    )
    magnitude: float = Field(
        0.3,
        ge=-1,
        le=5,
        description="forecast_error: relative deviation of real renewable output",
    )
    feeder: str = Field("", description="forecast_error: only this feeder ('' = everywhere)")

    @model_validator(mode="after")
    def _fields_of_kind(self) -> Event:
        outage = self.kind != "forecast_error"
        if outage and self.element is None:
            raise ValueError(f"kind = {self.kind!r} needs 'element' (a pandapower index)")
        if not outage and self.element is not None:
            raise ValueError("kind = 'forecast_error' takes no 'element' (use 'feeder')")
        if self.last_period is not None and self.last_period < self.first_period:
            raise ValueError(
                f"last_period = {self.last_period} is before first_period = {self.first_period}"
            )
        return self


class ScenarioConfig(_Strict):
    """A scenario: a grid, a day of profiles and the DERs and needs on it."""

    name: str = "default"
    grid: str = Field(
        "simbench:1-HVMV-mixed-all-0-sw",
        description="'simbench:CODE', 'pandapower:CASE' or a path to a pandapower .json net",
    )
    day: int = Field(224, ge=0, le=365, description="day of 2016 (0 = 1 January)")
    periods: int = Field(96, ge=1, le=96, description="quarter-hours from the first one")
    first_period: int = Field(0, ge=0, le=95, description="first quarter-hour of the day")
    seed: int = 7
    renewable_scale: float = Field(1.0, gt=0, description="factor on every generator profile")
    load_scale: float = Field(1.0, gt=0, description="factor on every load profile")
    t_rating_scale: float = Field(1.0, gt=0, description="factor on transmission line ratings")
    t_line_derate: dict[str, float] = Field(
        default_factory=dict,
        description="further factor on single transmission lines, by pandapower line index "
        '(e.g. a dynamic rating or a line in maintenance): {"1286" = 0.9}',
    )
    d_rating_scale: float = Field(1.0, gt=0, description="factor on distribution line ratings")
    transmission_min_kv: float = Field(60.0, gt=0, description="nodes at or above are TSO grid")
    d_vmin_pu: float | None = Field(
        None, gt=0.5, lt=1.0, description="distribution voltage band, lower (default: grid's)"
    )
    d_vmax_pu: float | None = Field(
        None, gt=1.0, lt=1.5, description="distribution voltage band, upper (default: grid's)"
    )
    d_voltage_margin_pu: float = Field(
        0.005, ge=0, le=0.05, description="DSO security margin inside the voltage band (pu)"
    )
    imbalance_std_mw: float = Field(25.0, ge=0, description="std. dev. of the TSO imbalance (MW)")
    aggregators: int = Field(4, ge=1, description="number of aggregators (DERAs)")
    ders: DerMix = DerMix()
    penalties: Penalties = Penalties()
    registration: Registration = Registration()
    delivery: Delivery = Delivery()
    settlement: Settlement = Settlement()
    commercial: Commercial = Commercial()
    events: tuple[Event, ...] = Field(
        (), description="real-time events ([[events]] tables): outages, forecast errors"
    )
    models: dict[str, UserModel] = Field(
        default_factory=dict, description="user-defined models, by id ([models.my-id] tables)"
    )

    @model_validator(mode="after")
    def _window(self) -> ScenarioConfig:
        if self.first_period + self.periods > 96:
            raise ValueError(
                f"first_period + periods = {self.first_period + self.periods}, expected <= 96"
            )
        late = [
            f"events[{i}]: first_period = {e.first_period}, expected < periods = {self.periods}"
            for i, e in enumerate(self.events)
            if e.first_period >= self.periods
        ]
        if late:
            raise ValueError("; ".join(late))
        return self

    def digest(self) -> str:
        """Stable hash of the configuration (identifies a scenario in manifests)."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:16]


# The isolating presets show one mechanism effect each: delivery there is perfect, so that
# what the AC check finds comes from the coordination model alone.
_PERFECT_DELIVERY = {
    "forecast_error_std": 0.0,
    "non_delivery_probability": 0.0,
    "rebound_fraction": 0.0,
}

PRESETS: dict[str, dict[str, Any]] = {
    # The default: the 110 kV meshed grid with 18 radial MV feeders on the sunny, windy
    # 12 August 2016; renewables scaled x1.3 (a 2030-like build-out) so that the baseline has
    # transmission congestion besides the native MV voltage problems.
    "default": {"name": "default", "renewable_scale": 1.3},
    # The same grid and day over 8 quarter-hours around noon: fast tests.
    "small": {"name": "small", "renewable_scale": 1.3, "periods": 8, "first_period": 44},
    # The small preset with real-time events in its middle hour (periods 2-5): a 110 kV
    # line trips (its parallel path overloads), one of the two HV/MV transformers of feeder
    # MV1.104 trips and the sun there shines 50 % more than forecast. The operators switch
    # to the contingency rules (DSO override, TSO emergency curtailment).
    "contingency": {
        "name": "contingency",
        "renewable_scale": 1.3,
        "periods": 8,
        "first_period": 44,
        "events": [
            {"kind": "line_outage", "element": 1319, "first_period": 2, "last_period": 5},
            {"kind": "trafo_outage", "element": 4, "first_period": 2, "last_period": 5},
            {
                "kind": "forecast_error",
                "feeder": "MV1.104",
                "magnitude": 0.5,
                "first_period": 2,
                "last_period": 5,
            },
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


def _format_validation_error(err: ValidationError) -> list[str]:
    out = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"]) or "(top level)"
        val = e.get("input")
        shown = "" if isinstance(val, dict) else f" = {val!r}"
        out.append(f"{loc}{shown}: {e['msg']}")
    return out


def config_from_dict(data: dict[str, Any], source: str = "<dict>") -> ScenarioConfig:
    """Validate a mapping into a ScenarioConfig, raising ScenarioConfigError with every problem."""
    try:
        return ScenarioConfig.model_validate(data)
    except ValidationError as err:
        raise ScenarioConfigError(source, _format_validation_error(err)) from None


def load_config(spec: str) -> ScenarioConfig:
    """Resolve ``spec``: a preset name or a path to a TOML scenario file.

    A TOML file may set ``preset = "NAME"`` to start from a preset and override fields."""
    if spec in PRESETS:
        return config_from_dict(PRESETS[spec], source=f"preset {spec!r}")
    path = Path(spec)
    if not path.exists():
        raise ScenarioConfigError(
            spec, [f"not a preset ({', '.join(sorted(PRESETS))}) and no such file"]
        )
    try:
        data = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as err:
        raise ScenarioConfigError(str(path), [f"not valid TOML: {err}"]) from None
    base: dict[str, Any] = {}
    preset = data.pop("preset", None)
    if preset is not None:
        if preset not in PRESETS:
            raise ScenarioConfigError(
                str(path), [f"preset = {preset!r}: expected one of {sorted(PRESETS)}"]
            )
        base = dict(PRESETS[preset])
    base["name"] = path.stem  # a file names its scenario unless it says otherwise
    for key, value in data.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            base[key] = {**base[key], **value}
        else:
            base[key] = value
    return config_from_dict(base, source=str(path))
