"""Rewrite the README's model list (between the catalogue markers) from catalogue.toml:
``.venv/bin/python scripts/readme_catalogue.py``. A test keeps the two equal."""

from __future__ import annotations

from pathlib import Path

from tsodso.cli.main import catalogue_markdown
from tsodso.coordination.catalogue import CATALOGUE

README = Path(__file__).resolve().parents[1] / "README.md"
START, END = "<!-- catalogue:start -->\n", "<!-- catalogue:end -->"

text = README.read_text()
head, rest = text.split(START, 1)
_, tail = rest.split(END, 1)
README.write_text(head + START + catalogue_markdown(CATALOGUE) + END + tail)
print(f"wrote {len(CATALOGUE)} models into {README.name}")
