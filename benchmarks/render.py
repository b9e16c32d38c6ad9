"""Message rendering (issue 13): the wall time of rendering a run's messages in each
standard (``RunResult.rendered(standard, keep=True)``), and of sizing every payload as the
log does (``payload_bytes``), on one prepared scenario, with a SHA-256 over every document
(name, type, encoding, bytes) per model and standard: a faster renderer must give the same
digests.

    .venv/bin/python benchmarks/render.py [--scenario default] [--repeats 3]
        [--save before.json]      # keep the seconds and digests of this code
        [--before before.json]    # print them beside this code's, with the ratio, and
                                  # fail if a digest differs

The scenario is prepared once and each model run once; only the rendering is timed.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import pandas as pd

import tsodso
from tsodso.exchange.messages import payload_bytes
from tsodso.exchange.standards import STANDARDS, RenderedLog

#: models that exercise each standard's renderers: smartnet-b (sequential TSO/DSO markets,
#: the most messages, UFTP), smartnet-d (UFTP, joint market), ferc-dso (OpenADR 3),
#: oen-hybrid and oen-two-step-tiered (CSIP-AUS envelopes)
MODELS = ("smartnet-b", "smartnet-d", "ferc-dso", "oen-hybrid", "oen-two-step-tiered")
PAYLOADS = "payload_bytes"  # the row of the log's own payload sizing


def digest(log: RenderedLog) -> str:
    """SHA-256 over every document of a log, in order: encoding, type, name, size, bytes."""
    h = hashlib.sha256()
    for m in log.messages:
        for d in m.documents:
            h.update(f"{d.encoding}\0{d.doc_type}\0{d.name}\0{d.size}\0".encode())
            h.update(d.body)
            h.update(b"\0")
    return h.hexdigest()


def _median_s(fn: Any, repeats: int) -> tuple[float, Any]:
    walls, out = [], None
    for _ in range(repeats):
        t0 = time.perf_counter()
        out = fn()
        walls.append(time.perf_counter() - t0)
    return statistics.median(walls), out


def measure(scenario: str, models: list[str], repeats: int) -> list[dict[str, Any]]:
    """One row per (model, standard), and one per model for ``payload_bytes``."""
    prep = tsodso.prepare(scenario)
    rows: list[dict[str, Any]] = []
    for model in models:
        run = tsodso.run(prep, model)
        msgs = [*run.messages.messages, *run.life.messages.messages]
        for std in STANDARDS:
            s, log = _median_s(lambda std=std, run=run: run.rendered(std, keep=True), repeats)
            rows.append(
                {
                    "model": model,
                    "standard": std,
                    "messages": len(log.messages),
                    "documents": sum(len(m.documents) for m in log.messages),
                    "bytes": log.total_bytes,
                    "seconds": s,
                    "digest": digest(log),
                }
            )
        s, sizes = _median_s(lambda msgs=msgs: [payload_bytes(m.payload) for m in msgs], repeats)
        if sizes != [m.bytes for m in msgs]:
            raise SystemExit(f"{model}: payload_bytes differs from the sizes the log recorded")
        sha = hashlib.sha256(json.dumps(sizes).encode()).hexdigest()
        rows.append(
            {
                "model": model,
                "standard": PAYLOADS,
                "messages": len(msgs),
                "documents": 0,
                "bytes": sum(sizes),
                "seconds": s,
                "digest": sha,
            }
        )
    return rows


def main() -> None:
    """Print the per-standard table (and per model and standard), before/after if given."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scenario", default="default")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--save", type=Path, help="write this run's rows as JSON")
    ap.add_argument("--before", type=Path, help="rows saved earlier (--save) to compare with")
    args = ap.parse_args()
    rows = measure(args.scenario, args.models.split(","), args.repeats)
    if args.save:
        args.save.write_text(json.dumps(rows, indent=1))
    now = pd.DataFrame(rows)
    keys = ["model", "standard"]
    if args.before:
        before = pd.DataFrame(json.loads(args.before.read_text()))
        t = now.merge(before, on=keys, suffixes=("", "_before"))
        if len(t) != len(now):
            raise SystemExit("the saved rows are of other models or standards")
        same = (t.digest == t.digest_before) & (t.bytes == t.bytes_before)
        t["identical"] = same
    else:
        t = now.assign(seconds_before=float("nan"), identical=True)
    per = (
        t.groupby("standard", sort=False)
        .agg(
            messages=("messages", "sum"),
            documents=("documents", "sum"),
            bytes=("bytes", "sum"),
            before_s=("seconds_before", "sum"),
            after_s=("seconds", "sum"),
            identical=("identical", "all"),
        )
        .reset_index()
    )
    total = per[per.standard != PAYLOADS][["before_s", "after_s"]].sum()
    per.loc[len(per)] = ["all standards", None, None, None, *total.tolist(), per.identical.all()]
    per["ratio"] = per.before_s / per.after_s
    print(f"## Rendering a run's messages, {args.scenario} scenario, models {args.models}")
    print(f"## (sum over models of the median of {args.repeats} renderings, seconds)")
    print(per.round({"before_s": 3, "after_s": 3, "ratio": 2}).to_string(index=False))
    print()
    detail = t[[*keys, "documents", "bytes", "seconds_before", "seconds", "identical"]]
    print(detail.round({"seconds_before": 3, "seconds": 3}).to_string(index=False))
    if not t.identical.all():
        sys.exit("a rendering's bytes differ from the saved ones")


if __name__ == "__main__":
    main()
