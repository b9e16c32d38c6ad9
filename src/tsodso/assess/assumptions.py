"""The assessment's assumptions: cost figures, horizon and network-benefit parameters (one
data file, ``assumptions.toml``) and the qualitative criteria (``criteria.toml``), with a
user's overrides from an assessment file.

Owns: reading both data files, checking them (every entry has a unit, a price year, a
source or the word assumption, and low <= central <= high) and applying an assessment file
(``[assumptions.KEY]`` low/central/high, ``[weights]``), refusing unknown keys with one
error that names every problem (file, field, expected). Must not: compute results.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import Any

from tsodso.schema.config import ScenarioConfigError
from tsodso.schema.files import InputFileError, read_input_text
from tsodso.schema.mechanism import Mechanism

KINDS = ("capex", "opex", "staff", "parameter")
PER = ("once", "area", "interface", "party", "kmessage", "gb")
#: the fields of an entry that an assessment file may set
OVERRIDABLE = ("low", "central", "high")
#: largest assessment file read (bytes)
MAX_FILE_BYTES = 1 << 20


class AssessInputError(ScenarioConfigError):
    """An assessment input is invalid; ``problems`` lists every problem found (reported
    like a scenario's problems)."""

    def __str__(self) -> str:
        return "invalid assessment" + super().__str__().removeprefix("invalid scenario")


@dataclass(frozen=True)
class Assumption:
    """One assumption with its range, unit, price year and source."""

    key: str
    description: str
    kind: str
    per: str
    when: dict[str, tuple[str, ...]]
    actor: str
    unit: str
    low: float
    central: float
    high: float
    year: int
    source: str
    reason: str

    def applies(self, mechanism: Mechanism) -> bool:
        """Whether a model with ``mechanism`` incurs this item (any listed field matches)."""
        if not self.when:
            return True
        return any(str(getattr(mechanism, f)) in vals for f, vals in self.when.items())


@dataclass(frozen=True)
class Criterion:
    """A qualitative criterion scored 1..5 from a mechanism field or a run KPI."""

    key: str
    description: str
    field: str | None
    scores: dict[str, float]
    kpi: str | None
    bands: tuple[tuple[float, float], ...]  # (max, score), first match wins

    def score(self, mechanism: Mechanism, kpis: dict[str, float]) -> float:
        """The score of one model (NaN where the KPI is missing)."""
        if self.field is not None:
            return self.scores[str(getattr(mechanism, self.field))]
        value = kpis.get(self.kpi or "", math.nan)
        if not math.isfinite(value):
            return math.nan
        return next(s for top, s in self.bands if value <= top)


@dataclass(frozen=True)
class Assumptions:
    """Every assumption by key, the criteria and their weights."""

    items: dict[str, Assumption]
    criteria: dict[str, Criterion]
    weights: dict[str, float]

    def values(self, which: str = "central") -> dict[str, float]:
        """Each assumption's low, central or high value, by key."""
        return {k: float(getattr(a, which)) for k, a in self.items.items()}


def _data(name: str) -> dict[str, Any]:
    return tomllib.loads(resources.files("tsodso.assess").joinpath(name).read_text("utf-8"))


def _is_num(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def entry_problems(key: str, entry: dict[str, Any], where: str) -> list[str]:
    """Every reason why one ``[assumptions.KEY]`` table is incomplete or inconsistent."""
    problems = []
    fields = {
        "description": str,
        "kind": str,
        "per": str,
        "when": dict,
        "actor": str,
        "unit": str,
        "source": str,
        "reason": str,
    }
    for f, typ in fields.items():
        if not isinstance(entry.get(f), typ) or (typ is str and not entry[f].strip()):
            problems.append(f"{where}: assumptions.{key}.{f}: expected a {typ.__name__}")
    for f in OVERRIDABLE:
        if not _is_num(entry.get(f)):
            problems.append(f"{where}: assumptions.{key}.{f}: expected a finite number")
    if not isinstance(entry.get("year"), int) or not 1990 <= entry["year"] <= 2100:
        problems.append(f"{where}: assumptions.{key}.year: expected a price year 1990..2100")
    if entry.get("kind") not in KINDS:
        problems.append(f"{where}: assumptions.{key}.kind: expected one of {', '.join(KINDS)}")
    if entry.get("per") not in PER:
        problems.append(f"{where}: assumptions.{key}.per: expected one of {', '.join(PER)}")
    if isinstance(entry.get("when"), dict):
        for f, vals in entry["when"].items():
            if f not in Mechanism.model_fields:
                problems.append(f"{where}: assumptions.{key}.when.{f}: not a mechanism field")
            elif not isinstance(vals, list) or not all(isinstance(v, str) for v in vals):
                problems.append(f"{where}: assumptions.{key}.when.{f}: expected a list of text")
    src = entry.get("source")
    if isinstance(src, str) and src.strip().lower() == "assumption" and not entry.get("reason"):
        problems.append(f"{where}: assumptions.{key}.reason: an assumption needs its reason")
    if all(_is_num(entry.get(f)) for f in OVERRIDABLE) and not (
        entry["low"] <= entry["central"] <= entry["high"]
    ):
        problems.append(
            f"{where}: assumptions.{key}: low {entry['low']} <= central {entry['central']} "
            f"<= high {entry['high']} does not hold"
        )
    if all(_is_num(entry.get(f)) for f in OVERRIDABLE) and entry["low"] < 0:
        problems.append(f"{where}: assumptions.{key}.low: expected >= 0")
    return problems


def _criteria(data: dict[str, Any]) -> dict[str, Criterion]:
    out = {}
    for key, c in data["criteria"].items():
        bands = tuple((float(b["max"]), float(b["score"])) for b in c.get("bands", []))
        scores = {k: float(v) for k, v in c.get("scores", {}).items()}
        out[key] = Criterion(key, c["description"], c.get("field"), scores, c.get("kpi"), bands)
    return out


def default_assumptions() -> Assumptions:
    """The shipped defaults (``assumptions.toml`` and ``criteria.toml``)."""
    data = _data("assumptions.toml")["assumptions"]
    problems = [p for k, e in data.items() for p in entry_problems(k, e, "assumptions.toml")]
    if problems:  # a packaging defect, not a user mistake
        raise AssessInputError("assumptions.toml", problems)
    items = {
        k: Assumption(
            key=k,
            description=e["description"],
            kind=e["kind"],
            per=e["per"],
            when={f: tuple(v) for f, v in e["when"].items()},
            actor=e["actor"],
            unit=e["unit"],
            low=float(e["low"]),
            central=float(e["central"]),
            high=float(e["high"]),
            year=int(e["year"]),
            source=e["source"],
            reason=e["reason"],
        )
        for k, e in data.items()
    }
    crit = _data("criteria.toml")
    weights = {k: float(v) for k, v in crit["weights"].items()}
    return Assumptions(items, _criteria(crit), weights)


def apply_overrides(base: Assumptions, data: dict[str, Any], source: str) -> Assumptions:
    """``base`` with an assessment file's values; every unknown key, non-number or broken
    range is reported in one ``AssessInputError``."""
    problems: list[str] = []
    items = dict(base.items)
    weights = dict(base.weights)
    for top, table in data.items():
        if top not in ("assumptions", "weights"):
            problems.append(f"{source}: {top}: unknown table (expected assumptions or weights)")
            continue
        if not isinstance(table, dict):
            problems.append(f"{source}: {top}: expected a table")
            continue
        for key, value in table.items():
            if top == "weights":
                if key not in weights:
                    problems.append(
                        f"{source}: weights.{key}: unknown criterion "
                        f"(expected one of {', '.join(weights)})"
                    )
                elif not _is_num(value) or value < 0:
                    problems.append(f"{source}: weights.{key}: expected a number >= 0")
                else:
                    weights[key] = float(value)
                continue
            if key not in items:
                problems.append(
                    f"{source}: assumptions.{key}: unknown assumption "
                    f"(expected one of {', '.join(items)})"
                )
                continue
            if not isinstance(value, dict):
                problems.append(
                    f"{source}: assumptions.{key}: expected a table of low/central/high"
                )
                continue
            new: dict[str, float] = {}
            for f, v in value.items():
                if f not in OVERRIDABLE:
                    problems.append(
                        f"{source}: assumptions.{key}.{f}: unknown field (expected low, central "
                        "or high)"
                    )
                elif not _is_num(v):
                    problems.append(f"{source}: assumptions.{key}.{f}: expected a finite number")
                else:
                    new[f] = float(v)
            if new:
                a = replace(items[key], **new)  # type: ignore[arg-type]
                if not a.low <= a.central <= a.high:
                    problems.append(
                        f"{source}: assumptions.{key}: low {a.low} <= central {a.central} <= "
                        f"high {a.high} does not hold after the override"
                    )
                items[key] = a
    if weights and sum(weights.values()) <= 0:
        problems.append(f"{source}: weights: expected at least one weight above 0")
    if problems:
        raise AssessInputError(source, problems)
    return Assumptions(items, base.criteria, weights)


def load_assumptions(path: str | None = None) -> Assumptions:
    """The defaults with an assessment file's overrides (``path``; None: the defaults)."""
    base = default_assumptions()
    if path is None:
        return base
    try:
        text = read_input_text(path, MAX_FILE_BYTES)
        data = tomllib.loads(text)
    except InputFileError as err:
        raise AssessInputError(str(path), [f"{path}: {err}"]) from None
    except tomllib.TOMLDecodeError as err:
        raise AssessInputError(str(path), [f"{path}: not TOML: {err}"]) from None
    return apply_overrides(base, data, str(Path(path)))
