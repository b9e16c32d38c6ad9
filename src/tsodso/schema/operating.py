"""The operating protocol of a coordination model (issue 14 item 5): who may instruct whom
in real time, through whom, who may override whom, what a red traffic light lets the DSO
do, who runs the emergency redispatch over which grid, and what a receiver does when an
instruction is late or lost.

The market rules of a model are its mechanism (``schema.mechanism``); these are its
operating rules, read by the contingency rules (``operation.contingency``) in the periods
of scenario events. Each named model's values, with their source or marked as an
interpretation, are data (``coordination/protocols.toml``); a user model sets them in a
``[models.ID.protocol]`` table. Owns: the vocabulary. Must not: import anything of tsodso.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

Route = Literal["direct", "via_dso", "platform"]
RedLight = Literal["none", "block", "curtail", "envelope"]
EmergencyScope = Literal["transmission", "whole_system"]
OnLost = Literal["no_action", "hold_last", "fallback_envelope"]


class OperatingProtocol(BaseModel):
    """A model's real-time operating rules (the defaults are the rules every model
    followed before protocols existed: the TSO instructs directly, the DSO may override,
    a red light does nothing more, the TSO's emergency redispatch sees transmission only,
    and a lost instruction is not executed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tso_instructs: Route = Field(
        "direct",
        description="how the TSO's emergency instructions reach distribution DERs: "
        "'direct' (TSO to aggregator, the DSO notified), 'via_dso' (TSO to the area's DSO, "
        "which instructs the aggregator), 'platform' (TSO to the market operator's "
        "platform, which instructs the aggregator and notifies the DSO)",
    )
    dso_override: StrictBool = Field(
        True,
        description="the DSO may cancel another operator's activations in its feeders that "
        "push a broken limit further",
    )
    red_light: RedLight = Field(
        "none",
        description="what a red light (a distribution limit broken in real time, after "
        "any override) lets the DSO do: 'none', 'block' (refuse the TSO's emergency "
        "activations in that feeder), 'curtail' (its own emergency redispatch in the "
        "feeder, paid at bid prices) or 'envelope' (tighten the dynamic operating "
        "envelopes of the feeder's DERs, unpaid, applied by the platform)",
    )
    emergency_scope: EmergencyScope = Field(
        "transmission",
        description="the grid the emergency redispatch relieves: 'transmission' (the TSO's "
        "DC model only) or 'whole_system' (the operator holds the feeders' models too and "
        "relieves red feeders in the same redispatch)",
    )
    on_lost_message: OnLost = Field(
        "no_action",
        description="what the receiver of a lost or late instruction does: 'no_action' "
        "(nothing: the instruction is not executed), 'hold_last' (repeats the last "
        "instruction it received from that sender, within what is left of each bid), "
        "'fallback_envelope' (a lost envelope update makes the DERs fall back to the "
        "default envelope: their whole flexible range tightened; other instructions as "
        "no_action)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> OperatingProtocol:
        problems = []
        if self.red_light == "envelope" and self.dso_override:
            problems.append(
                "red_light = 'envelope': a DSO that acts only through envelopes has no "
                "override (expected dso_override = false)"
            )
        if self.on_lost_message == "fallback_envelope" and self.red_light != "envelope":
            problems.append(
                f"on_lost_message = 'fallback_envelope': expected red_light = 'envelope' "
                f"(the only instruction with a fallback), got {self.red_light!r}"
            )
        if problems:
            raise ValueError("\n".join(problems))
        return self


#: the protocol fields and the values each takes (for tables and docs)
PROTOCOL_FIELDS: tuple[str, ...] = tuple(OperatingProtocol.model_fields)
