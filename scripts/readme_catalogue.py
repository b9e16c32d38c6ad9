"""Rewrite the README's model list and protocol table (between their markers) from
catalogue.toml and protocols.toml: ``.venv/bin/python scripts/readme_catalogue.py``.
Tests keep them equal."""

from __future__ import annotations

from pathlib import Path

from tsodso.cli.main import catalogue_markdown, protocols_markdown
from tsodso.coordination.catalogue import CATALOGUE

README = Path(__file__).resolve().parents[1] / "README.md"

text = README.read_text()
for name, body in (
    ("catalogue", catalogue_markdown(CATALOGUE)),
    ("protocols", protocols_markdown(CATALOGUE)),
):
    head, rest = text.split(f"<!-- {name}:start -->\n", 1)
    _, tail = rest.split(f"<!-- {name}:end -->", 1)
    text = f"{head}<!-- {name}:start -->\n{body}<!-- {name}:end -->{tail}"
README.write_text(text)
print(f"wrote {len(CATALOGUE)} models and their protocols into {README.name}")
