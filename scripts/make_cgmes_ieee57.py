"""Write the CGMES test model: IEEE 57-bus as CGMES 2.4.15 (EQ, TP, SSH, SV) by PowSyBl.

The model is exported by a tool tsodso does not use at run time, so that the CGMES
import (``tsodso.grids.cgmes``, through pandapower's converter) is checked against an
independent writer and its solved state (SV: PowSyBl's own AC load flow). PowSyBl is not
a tsodso dependency; run this script in an environment of its own:

    python3.11 -m venv /tmp/powsybl && /tmp/powsybl/bin/pip install pypowsybl==1.16.1
    /tmp/powsybl/bin/python scripts/make_cgmes_ieee57.py

pypowsybl: Mozilla Public License 2.0 (the exported model is data it wrote, not its code).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path

import pypowsybl as pp

OUT = Path(__file__).resolve().parent.parent / "tests/reference/cases/cgmes/ieee57.zip"


def main() -> None:
    """Solve IEEE 57 with PowSyBl's AC load flow (slack at bus 1, written to the model so
    that SV names it as the angle reference) and export the four profiles, zipped."""
    net = pp.network.create_ieee57()
    params = pp.loadflow.Parameters(write_slack_bus=True, distributed_slack=False)
    result = pp.loadflow.run_ac(net, parameters=params)[0]
    if result.status.name != "CONVERGED":
        raise SystemExit(f"PowSyBl's load flow did not converge: {result.status}")
    with tempfile.TemporaryDirectory() as tmp:
        net.save(
            f"{tmp}/ieee57",
            format="CGMES",
            parameters={"iidm.export.cgmes.profiles": "EQ,TP,SSH,SV"},
        )
        OUT.parent.mkdir(parents=True, exist_ok=True)
        with zipfile.ZipFile(OUT, "w", zipfile.ZIP_DEFLATED) as zf:
            for f in sorted(Path(tmp).glob("*.xml")):
                zf.write(f, f.name)
    print(f"wrote {OUT} (pypowsybl {pp.__version__})")


if __name__ == "__main__":
    main()
