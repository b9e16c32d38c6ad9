"""The DER and bid tables: columns declared as data (name, unit, kind, bounds, meaning) and
checked when a table is made, so that a wrong shape, a NaN or an out-of-range value is
named where it enters, not found as a wrong optimum later (pandapower keeps a schema per
element table, PyPSA a table of component attributes; this follows them in spirit).

Sign convention (stated once): injection positive. A bid's ``direction`` is +1 for *up*
(more injection or less consumption) and -1 for *down*. Periods index the scenario horizon.

A reactive offer (``ReactiveTable``) is symmetric: one row per DER and period offers
injection (+, over-excited) and absorption (-, under-excited) up to the same MVAr.

Owns: ``DerTable``, ``BidTable``, ``ReactiveTable``, their column schemas and
``TableError``. Must not: import anything of tsodso.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Final, Literal

import numpy as np

#: how a DER's activations in different periods are coupled
COUPLING_NONE: Final = "none"
COUPLING_STORAGE: Final = "storage"
COUPLING_SHIFT: Final = "shift"

Kind = Literal["int", "float", "bool", "str"]


@dataclass(frozen=True)
class Column:
    """One column of a table: its unit, kind, bounds (inclusive, None = open) and meaning.
    ``per_period`` columns are (rows, periods) arrays."""

    name: str
    unit: str
    kind: Kind
    description: str
    lo: float | None = None
    hi: float | None = None
    per_period: bool = False
    choices: tuple[str, ...] = ()


class TableError(ValueError):
    """A table breaks its schema; ``problems`` lists every column that does."""

    def __init__(self, table: str, problems: list[str]):
        self.table = table
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{table}: {len(problems)} problem(s)\n{lines}")


DER_COLUMNS: tuple[Column, ...] = (
    Column("id", "-", "str", "unique DER id"),
    Column(
        "kind",
        "-",
        "str",
        "technology",
        choices=("pv", "wind", "hydro", "biomass", "other_gen", "battery", "ev", "flex_load"),
    ),
    Column("node", "-", "int", "global node index", lo=0),
    Column("aggregator", "-", "int", "aggregator position", lo=0),
    Column("p_base_mw", "MW", "float", "baseline injection", per_period=True),
    Column("up_mw", "MW", "float", "available upward flexibility", lo=0, per_period=True),
    Column("down_mw", "MW", "float", "available downward flexibility", lo=0, per_period=True),
    Column("price_up_eur_per_mwh", "EUR/MWh", "float", "price of an up activation"),
    Column("price_down_eur_per_mwh", "EUR/MWh", "float", "price of a down activation"),
    Column(
        "coupling",
        "-",
        "str",
        "how periods are coupled",
        choices=(COUPLING_NONE, COUPLING_STORAGE, COUPLING_SHIFT),
    ),
    Column("energy_mwh", "MWh", "float", "storage capacity (0 where not storage)", lo=0),
    Column("soc0_mwh", "MWh", "float", "state of charge at the start", lo=0),
    Column("efficiency", "-", "float", "one-way storage efficiency", lo=0, hi=1),
    Column(
        "soc_base_mwh",
        "MWh",
        "float",
        "state of charge at the end of each period if the unit follows its baseline "
        "(soc0 throughout where the baseline is idle; 0 where not storage)",
        lo=0,
        per_period=True,
    ),
    Column("synthetic", "-", "bool", "added by the scenario (its baseline adds to the grid's)"),
    Column("curtailable", "-", "bool", "renewable whose down activation is curtailment"),
    Column("p_rated_mw", "MW", "float", "nameplate power", lo=0),
    Column(
        "element_table",
        "-",
        "str",
        "pandapower table the DER comes from ('' = synthetic)",
        choices=("sgen", "load", "gen", ""),
    ),
    Column("element_index", "-", "int", "index in that table (-1 for synthetic DERs)", lo=-1),
)

BID_COLUMNS: tuple[Column, ...] = (
    Column(
        "der", "-", "int", "DER row (-1: a virtual bid, e.g. an interface curve segment)", lo=-1
    ),
    Column("direction", "-", "int", "+1 up (more injection), -1 down", lo=-1, hi=1),
    Column("period", "-", "int", "period of the scenario horizon", lo=0),
    Column("q_max_mw", "MW", "float", "largest divisible quantity", lo=0),
    Column("price_eur_per_mwh", "EUR/MWh", "float", "energy price (may be negative)"),
    Column("node", "-", "int", "global node index", lo=0),
    Column("aggregator", "-", "int", "aggregator position (-1: an operator's virtual bid)", lo=-1),
)

REACTIVE_COLUMNS: tuple[Column, ...] = (
    Column("der", "-", "int", "DER row", lo=0),
    Column("period", "-", "int", "period of the scenario horizon", lo=0),
    Column("q_max_mvar", "MVAr", "float", "largest injection, and largest absorption", lo=0),
    Column("price_eur_per_mvarh", "EUR/MVArh", "float", "price of reactive energy", lo=0),
    Column("node", "-", "int", "global node index", lo=0),
    Column("aggregator", "-", "int", "aggregator position", lo=0),
)

_KINDS: dict[Kind, str] = {"int": "iu", "float": "fiu", "bool": "b", "str": "UOS"}


def check_columns(table: str, columns: tuple[Column, ...], values: dict[str, np.ndarray]) -> None:
    """Raise ``TableError`` naming every column whose shape, kind, values or bounds break
    ``columns`` (all rows of a table have the same length)."""
    problems: list[str] = []
    n = None
    for col in columns:
        a = values[col.name]
        if not isinstance(a, np.ndarray):
            problems.append(f"{col.name}: expected a numpy array, got {type(a).__name__}")
            continue
        want_dim = 2 if col.per_period else 1
        if a.ndim != want_dim:
            problems.append(f"{col.name}: expected {want_dim}-D, got shape {a.shape}")
            continue
        if n is None:
            n = a.shape[0]
        elif a.shape[0] != n:
            problems.append(f"{col.name}: {a.shape[0]} rows, expected {n}")
        if a.dtype.kind not in _KINDS[col.kind]:
            problems.append(f"{col.name}: dtype {a.dtype}, expected {col.kind}")
            continue
        if col.kind in ("int", "float") and a.size:
            if col.kind == "float" and not np.isfinite(a).all():
                bad = np.argwhere(~np.isfinite(a))[0]
                problems.append(f"{col.name}: non-finite value at row {int(bad[0])}")
                continue
            if col.lo is not None and a.min() < col.lo:
                problems.append(f"{col.name}: {a.min()} below {col.lo} {col.unit}")
            if col.hi is not None and a.max() > col.hi:
                problems.append(f"{col.name}: {a.max()} above {col.hi} {col.unit}")
        if col.choices and a.size:
            extra = set(np.unique(a).tolist()) - set(col.choices)
            if extra:
                problems.append(f"{col.name}: {sorted(extra)} not in {list(col.choices)}")
    if problems:
        raise TableError(table, problems)


@dataclass(frozen=True)
class DerTable:
    """One row per DER (``DER_COLUMNS``); per-period columns are (DER, period)."""

    id: np.ndarray
    kind: np.ndarray
    node: np.ndarray
    aggregator: np.ndarray
    p_base_mw: np.ndarray
    up_mw: np.ndarray
    down_mw: np.ndarray
    price_up_eur_per_mwh: np.ndarray
    price_down_eur_per_mwh: np.ndarray
    coupling: np.ndarray
    energy_mwh: np.ndarray
    soc0_mwh: np.ndarray
    efficiency: np.ndarray
    soc_base_mwh: np.ndarray
    synthetic: np.ndarray
    curtailable: np.ndarray
    p_rated_mw: np.ndarray
    element_table: np.ndarray
    element_index: np.ndarray

    def __post_init__(self) -> None:
        check_columns(
            "DER table", DER_COLUMNS, {f.name: getattr(self, f.name) for f in fields(self)}
        )

    def __len__(self) -> int:
        return len(self.id)

    def nominated_storage_flow_mwh(self) -> np.ndarray:
        """(D, T) the energy each unit's baseline adds to its store in each period (MWh;
        negative when it discharges): the steps of ``soc_base_mwh`` from ``soc0_mwh``."""
        prev = np.concatenate([self.soc0_mwh[:, None], self.soc_base_mwh[:, :-1]], axis=1)
        out: np.ndarray = self.soc_base_mwh - prev
        return out


@dataclass(frozen=True)
class BidTable:
    """Flexibility bids (``BID_COLUMNS``), one row per DER, direction and period; divisible
    between 0 and ``q_max_mw``."""

    der: np.ndarray
    direction: np.ndarray
    period: np.ndarray
    q_max_mw: np.ndarray
    price_eur_per_mwh: np.ndarray
    node: np.ndarray
    aggregator: np.ndarray

    def __post_init__(self) -> None:
        check_columns(
            "bid table", BID_COLUMNS, {f.name: getattr(self, f.name) for f in fields(self)}
        )

    def __len__(self) -> int:
        return len(self.der)

    def subset(self, mask: np.ndarray) -> BidTable:
        """A new table with the rows where ``mask`` holds (or at the indices it lists)."""
        return BidTable(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def offered(self, der_ids: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
        """The rows where ``mask`` holds as an offer's named columns, each DER by its id
        (``der_ids``: the DER table's ids): what a bids message carries."""
        return {
            "der": der_ids[self.der[mask]],
            "direction": self.direction[mask],
            "period": self.period[mask],
            "q_max_mw": self.q_max_mw[mask],
            "price": self.price_eur_per_mwh[mask],
        }

    def with_caps(self, q_max_mw: np.ndarray) -> BidTable:
        """Same bids with new quantity caps (e.g. after a DOE or a filter)."""
        cols = {f.name: getattr(self, f.name) for f in fields(self)}
        cols["q_max_mw"] = np.asarray(q_max_mw, dtype=float)
        return BidTable(**cols)

    @staticmethod
    def concat(*tables: BidTable) -> BidTable:
        """The rows of every table, in order."""
        return BidTable(
            **{
                f.name: np.concatenate([getattr(t, f.name) for t in tables])
                for f in fields(BidTable)
            }
        )


@dataclass(frozen=True)
class ReactiveTable:
    """Reactive-power offers (``REACTIVE_COLUMNS``), one row per DER and period: divisible,
    from ``q_max_mvar`` absorbed to ``q_max_mvar`` injected, paid per MVArh either way."""

    der: np.ndarray
    period: np.ndarray
    q_max_mvar: np.ndarray
    price_eur_per_mvarh: np.ndarray
    node: np.ndarray
    aggregator: np.ndarray

    def __post_init__(self) -> None:
        check_columns(
            "reactive table",
            REACTIVE_COLUMNS,
            {f.name: getattr(self, f.name) for f in fields(self)},
        )

    def __len__(self) -> int:
        return len(self.der)

    def subset(self, mask: np.ndarray) -> ReactiveTable:
        """A new table with the rows where ``mask`` holds (or at the indices it lists)."""
        return ReactiveTable(**{f.name: getattr(self, f.name)[mask] for f in fields(self)})

    def key(self, periods: int) -> np.ndarray:
        """A unique integer per row (its DER and period): rows of a subset find their place
        in the table they came from by it."""
        return np.asarray(self.der * periods + self.period)
