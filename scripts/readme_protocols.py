"""Rewrite the README's protocol table (between the protocol markers) from
protocols.toml: ``.venv/bin/python scripts/readme_protocols.py``. A test keeps the two
equal."""

from __future__ import annotations

from pathlib import Path

from tsodso.cli.main import protocols_markdown
from tsodso.coordination.catalogue import CATALOGUE

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- protocols:start -->\n", "<!-- protocols:end -->"

text = README.read_text()
head, rest = text.split(START, 1)
_, tail = rest.split(END, 1)
README.write_text(head + START + protocols_markdown(CATALOGUE) + END + tail)
print(f"wrote {len(CATALOGUE)} protocols into {README.name}")
