"""Every named coordination model of the review paper (MODELS.md section 4) as a preset,
read from ``catalogue.toml`` (one table per model: id, name, region, source, parameters,
description, interpretation), each with its operating protocol from ``protocols.toml``
(one table per model, with the basis of its values), plus the user's ``[models.ID]``
tables of a scenario (their protocol from ``[models.ID.protocol]``).

Every row is validated by the mechanism vocabulary (``schema.mechanism``) and checked
against what its family supports (``coordination.families``); a user model gets the same
checks when the scenario is loaded, with every problem listed in one message.

Owns: ``ModelPreset``, ``CATALOGUE`` and ``models_for``. Must not: run anything.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

from pydantic import ValidationError

from tsodso.coordination.families import FAMILIES, check, family_of
from tsodso.schema.config import ScenarioConfig, ScenarioConfigError
from tsodso.schema.mechanism import Mechanism
from tsodso.schema.operating import OperatingProtocol

CATALOGUE_FILE = "catalogue.toml"
PROTOCOLS_FILE = "protocols.toml"
_ROW_FIELDS = ("name", "region", "source", "description", "interpretation")
#: the ``--stages`` value that keeps each model's own market stages
OWN_STAGES = "model"


@dataclass(frozen=True)
class ModelPreset:
    """A named coordination model (or a user's model) as a point of the mechanism space."""

    id: str
    name: str
    region: str
    source: str
    description: str
    mechanism: Mechanism
    interpretation: str = ""
    protocol: OperatingProtocol = OperatingProtocol()
    protocol_basis: str = ""  # the source of the protocol's values, interpretations marked

    @property
    def family(self) -> str:
        """The mechanism family that runs this model."""
        return family_of(self.mechanism)

    def at_stages(self, stages: str) -> ModelPreset:
        """The same model with its markets clearing at ``stages``: ``OWN_STAGES`` keeps
        the model's own, any other value sets ``Mechanism.stages`` (which refuses what is
        not a ``Stages``)."""
        if stages == OWN_STAGES:
            return self
        mech = Mechanism(**{**self.mechanism.model_dump(), "stages": stages})
        return dataclasses.replace(self, mechanism=mech)

    def as_dict(self) -> dict[str, Any]:
        """Everything about the model as plain JSON-ready values."""
        fam = FAMILIES[self.family]
        return {
            "id": self.id,
            "name": self.name,
            "region": self.region,
            "source": self.source,
            "family": self.family,
            "description": self.description,
            "interpretation": self.interpretation,
            "parameters": {**self.mechanism.as_dict(), "family": self.family},
            "not_read_by_family": dict(fam.ignores),
            "protocol": self.protocol.model_dump(),
            "protocol_basis": self.protocol_basis,
        }


class CatalogueError(ValueError):
    """The shipped catalogue breaks the vocabulary or its families (a packaging error)."""


def _format(err: ValidationError) -> list[str]:
    return [
        f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in err.errors()
    ]


def _protocols(
    text: str, ids: list[str]
) -> tuple[dict[str, tuple[OperatingProtocol, str]], list[str]]:
    """Each model's protocol and its basis from ``protocols.toml``, and every problem: a
    model without a table, a table of no model, a value outside the vocabulary."""
    data = tomllib.loads(text)
    out: dict[str, tuple[OperatingProtocol, str]] = {}
    problems = [f"{PROTOCOLS_FILE}: no table for model {m!r}" for m in ids if m not in data]
    problems += [f"{PROTOCOLS_FILE}: [{m}] is no catalogue model" for m in data if m not in ids]
    for mid, row in data.items():
        row = dict(row)
        basis = row.pop("basis", "")
        if not isinstance(basis, str) or not basis:
            problems.append(f"{PROTOCOLS_FILE}: [{mid}].basis: expected the source (text)")
        try:
            out[mid] = (OperatingProtocol.model_validate(row), str(basis))
        except ValidationError as err:
            problems += [
                f"{PROTOCOLS_FILE}: [{mid}].{'.'.join(str(x) for x in e['loc'])}"
                + (f" = {e['input']!r}" if e["loc"] else "")
                + f": {e['msg']}"
                for e in err.errors()
            ]
    return out, problems


def load_catalogue(text: str | None = None, protocols: str | None = None) -> dict[str, ModelPreset]:
    """The named models of ``catalogue.toml`` (or of ``text``) with their protocols of
    ``protocols.toml`` (or of ``protocols``), each validated."""
    pkg = resources.files(__package__)
    if text is None:
        text = pkg.joinpath(CATALOGUE_FILE).read_text(encoding="utf-8")
    if protocols is None:
        protocols = pkg.joinpath(PROTOCOLS_FILE).read_text(encoding="utf-8")
    data = tomllib.loads(text)
    sources: dict[str, str] = data.get("sources", {})
    # mechanism values every preset takes unless its own table says otherwise
    defaults: dict[str, Any] = data.get("defaults", {})
    out: dict[str, ModelPreset] = {}
    prot, problems = _protocols(protocols, list(data.get("models", {})))
    for mid, row in data.get("models", {}).items():
        row = {**defaults, **row}
        info = {k: row.pop(k, "") for k in _ROW_FIELDS}
        if info["source"] not in sources:
            problems.append(f"models.{mid}.source = {info['source']!r}: not in [sources]")
            continue
        try:
            mech = Mechanism.model_validate(row)
        except ValidationError as err:
            problems += [f"models.{mid}.{p}" for p in _format(err)]
            continue
        problems += [f"models.{mid}: {p}" for p in check(mech)]
        out[mid] = ModelPreset(
            id=mid,
            name=info["name"],
            region=info["region"],
            source=sources[info["source"]],
            description=info["description"],
            mechanism=mech,
            interpretation=info["interpretation"],
            protocol=prot[mid][0] if mid in prot else OperatingProtocol(),
            protocol_basis=prot[mid][1] if mid in prot else "",
        )
    if problems:
        raise CatalogueError(f"{CATALOGUE_FILE}: " + "; ".join(problems))
    return out


CATALOGUE: dict[str, ModelPreset] = load_catalogue()


def get_model(model_id: str) -> ModelPreset:
    """The preset with this id; KeyError names the known ids."""
    try:
        return CATALOGUE[model_id]
    except KeyError:
        raise KeyError(f"unknown model {model_id!r}") from None


def models_for(cfg: ScenarioConfig) -> dict[str, ModelPreset]:
    """The catalogue plus the scenario's user-defined models ([models.ID] tables).

    Raises ``ScenarioConfigError`` listing every user model its family cannot run and
    every id that is already a catalogue model's."""
    out = dict(CATALOGUE)
    problems: list[str] = []
    for mid, m in cfg.models.items():
        if mid in CATALOGUE:  # it would silently replace the named model under its id
            problems.append(
                f"models.{mid} (id): the catalogue has a model {mid!r} "
                f"({CATALOGUE[mid].name}); give yours another id"
            )
            continue
        mech = m.mechanism()
        problems += [f"models.{mid}: {p}" for p in check(mech)]
        out[mid] = ModelPreset(
            id=mid,
            name=m.name or mid,
            region="user",
            source=f"scenario {cfg.name!r}",
            description=m.description or "user-defined point of the mechanism space",
            mechanism=mech,
            protocol=m.protocol,
            protocol_basis=f"scenario {cfg.name!r}"
            + ("" if "protocol" in m.model_fields_set else " (default protocol)"),
        )
    if problems:
        raise ScenarioConfigError(f"scenario {cfg.name!r}", problems)
    return out
