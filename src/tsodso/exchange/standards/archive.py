"""Rendered messages on disk: one compressed archive per encoding
(``messages-<encoding>.zip``, deflate), one entry per document in log order, and an
``index.csv`` in each naming every entry's message (step, sender, receiver, kind, period).

Owns: the archive layout. Must not: render.
"""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pandas as pd

from tsodso.exchange.standards.base import Document, RenderedLog


def write_archives(log: RenderedLog, out_dir: Path) -> list[Path]:
    """Write ``log``'s documents (rendered with ``keep``) as one zip per encoding."""
    by_enc: dict[str, list[tuple[Document, list[object]]]] = {}
    for m in log.messages:
        msg = m.message
        for d in m.documents:
            if not d.body and d.size:
                raise ValueError("the log was rendered for sizes only: render it with keep")
            row = [d.name, d.doc_type, msg.step, msg.sender, msg.receiver, msg.kind, msg.period]
            by_enc.setdefault(d.encoding, []).append((d, row))
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for enc, docs in by_enc.items():
        p = out_dir / f"messages-{enc}.zip"
        with zipfile.ZipFile(p, "w", compression=zipfile.ZIP_DEFLATED) as z:
            for d, _ in docs:
                z.writestr(d.name, d.body)
            cols = ["entry", "document_type", "step", "sender", "receiver", "kind", "period"]
            index = pd.DataFrame([r for _, r in docs], columns=cols)
            z.writestr("index.csv", index.to_csv(index=False))
        paths.append(p)
    return paths


def read_archive(path: Path) -> list[Document]:
    """The documents of one archive, in order (their encoding from its name)."""
    enc = path.stem.removeprefix("messages-")
    with zipfile.ZipFile(path) as z:
        index = pd.read_csv(io.BytesIO(z.read("index.csv")))
        return [
            Document(enc, str(r.document_type), str(r.entry), len(b := z.read(r.entry)), b)
            for r in index.itertuples(index=False)
        ]
