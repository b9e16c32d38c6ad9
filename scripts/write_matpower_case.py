"""Write one of pandapower's bundled MATPOWER-derived cases as a MATPOWER v2 .m file.

Usage: .venv/bin/python scripts/write_matpower_case.py case14 src/tsodso/grids/cases/case14.m

The data are pandapower's copy of the IEEE test case (``pandapower.networks.case14``, from
MATPOWER's case14.m, itself from the University of Washington's Power Systems Test Case
Archive); the file is written from it through pandapower's ``to_ppc`` so that tsodso ships a
case in the format operators and researchers exchange, read back with ``from_mpc``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pandapower.networks as pn
from pandapower.converter.pypower import to_ppc


def _matrix(name: str, rows: np.ndarray, one_based: tuple[int, ...]) -> str:
    rows = np.array(rows, dtype=float, copy=True)
    for c in one_based:
        rows[:, c] += 1
    body = "\n".join("\t" + "\t".join(f"{v:.10g}" for v in r) + ";" for r in rows)
    return f"mpc.{name} = [\n{body}\n];\n"


def write_case(case: str, path: Path) -> None:
    """Write pandapower's ``case`` to ``path`` as MATPOWER case format version 2."""
    net = getattr(pn, case)()
    ppc = to_ppc(net, init="flat", calculate_voltage_angles=True)
    gencost = ppc["gencost"]
    gen = np.array(ppc["gen"][:, :21], dtype=float)
    gen[np.isnan(gen[:, 6]), 6] = float(ppc["baseMVA"])  # MBASE: MATPOWER's default
    text = (
        f"function mpc = {path.stem}\n"
        f"%{path.stem.upper()}  {case} written from pandapower.networks.{case} (MATPOWER data)\n"
        "mpc.version = '2';\n"
        f"mpc.baseMVA = {float(ppc['baseMVA']):g};\n"
        + _matrix("bus", ppc["bus"][:, :13], (0,))
        + _matrix("gen", gen, (0,))
        + _matrix("branch", ppc["branch"][:, :13], (0, 1))
        + _matrix("gencost", gencost, ())
    )
    path.write_text(text)


if __name__ == "__main__":
    write_case(sys.argv[1], Path(sys.argv[2]))
