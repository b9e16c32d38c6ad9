"""Rewrite the README's all-models table (between the models markers) from the JSON of
``tsodso compare --models all --json`` (run on the default scenario):

    .venv/bin/tsodso compare --models all --json > /tmp/all.json
    .venv/bin/python scripts/readme_models.py /tmp/all.json

Rows keep the catalogue's order; each names its family and the declared equivalence class
it belongs to (``coordination/equivalences.toml``), so identical rows are visibly on
purpose."""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tsodso.coordination.catalogue import CATALOGUE
from tsodso.coordination.equivalence import equivalence_classes
from tsodso.coordination.families import family_of

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- models:start -->\n", "<!-- models:end -->"
COLUMNS = (  # header, KPI, format
    ("cost to serve EUR", "cost_to_serve_eur", "{:,.0f}"),
    ("procurement EUR", "procurement_cost_eur", "{:,.0f}"),
    ("TSO EUR", "tso_cost_eur", "{:,.0f}"),
    ("DSO EUR", "dso_cost_eur", "{:,.0f}"),
    ("unmet MWh", "unresolved_imbalance_mwh", "{:.1f}"),
    ("overload MWh", "overload_mwh", "{:.1f}"),
    ("V viol.", "voltage_violations", "{:d}"),
    ("undeliv. MWh", "non_delivery_mwh", "{:.1f}"),
    ("stacking cut MWh", "stacking_cut_mwh", "{:.1f}"),
    ("msgs", "messages", "{:d}"),
    ("kB", "message_bytes", "{:,.0f}"),
    ("compute s", "compute_time_s", "{:.0f}"),
)


def table(doc: dict) -> str:  # type: ignore[type-arg]
    """The Markdown table of a compare document."""
    order = list(CATALOGUE)
    classes = {m: min(c, key=order.index) for c in equivalence_classes() for m in c}
    rows = {r["model"]: r for r in doc["results"]}
    head = ["model", "family", "same as", "status", *(h for h, _, _ in COLUMNS)]
    lines = ["| " + " | ".join(head) + " |", "|---|---|---|---|" + "--:|" * len(COLUMNS)]
    for mid, preset in CATALOGUE.items():
        if mid not in rows:
            continue
        r, k = rows[mid], rows[mid]["kpis"]
        same = classes.get(mid, "")
        cells = [mid, family_of(preset.mechanism), "" if same == mid else same, r["status"]]
        for _, key, fmt in COLUMNS:
            v = k.get(key)
            if key == "message_bytes" and v is not None:
                v = v / 1000
            cells.append("-" if v is None else fmt.format(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    doc = json.loads(Path(sys.argv[1]).read_text())
    text = README.read_text()
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    README.write_text(head + START + table(doc) + END + tail)
    print(f"wrote {len(doc['results'])} models into {README.name}")
