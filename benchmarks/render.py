"""Message rendering (issue 13): the wall time of rendering a run's messages in each
standard (what ``RunResult.rendered(standard, keep=True)`` does: the render context, then
every message's documents with their bytes) and of sizing every payload as the log does
(``payload_bytes``), for this code and for the renderers of a baseline git revision (by
default the original per-element ones), measured alternately in one process on one prepared
scenario so that a loaded machine slows both alike. Each (model, standard) also gets a
SHA-256 over every document (encoding, type, name, size, bytes): the two codes' must be the
same, or the script fails.

    .venv/bin/python benchmarks/render.py [--scenario default] [--repeats 3]
        [--baseline adc4174 | --baseline none]

The scenario is prepared once and each model run once; only the rendering is timed. The
baseline's ``src/tsodso/exchange`` is read with ``git show`` into a temporary package.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

import pandas as pd

import tsodso
from tsodso.exchange import messages as new_messages
from tsodso.exchange import standards as new_standards
from tsodso.exchange.messages import Message
from tsodso.exchange.standards import log_digest

#: models that exercise each standard's renderers: smartnet-b (sequential TSO/DSO markets,
#: the most messages, UFTP), smartnet-d (UFTP, joint market), ferc-dso (OpenADR 3),
#: oen-hybrid and oen-two-step-tiered (CSIP-AUS envelopes)
MODELS = ("smartnet-b", "smartnet-d", "ferc-dso", "oen-hybrid", "oen-two-step-tiered")
#: the last commit with the original (per-element) renderers
BASELINE = "adc4174"
PAYLOADS = "payload_bytes"  # the row of the log's own payload sizing
ROOT = Path(__file__).resolve().parent.parent


def baseline(rev: str) -> tuple[ModuleType, ModuleType]:
    """The ``standards`` and ``messages`` modules of ``rev``, as package ``_baseline_<rev>``."""
    pkg = f"_baseline_{rev}"
    tmp = Path(tempfile.mkdtemp(prefix="render-baseline-"))
    ls = ["git", "-C", str(ROOT), "ls-tree", "-r", "--name-only", rev, "src/tsodso/exchange"]
    files = subprocess.run(ls, capture_output=True, text=True, check=True).stdout.split()
    if not files:
        raise SystemExit(f"revision {rev} has no src/tsodso/exchange")
    for f in files:
        show = ["git", "-C", str(ROOT), "show", f"{rev}:{f}"]
        raw = subprocess.run(show, capture_output=True, check=True).stdout
        if f.endswith(".py"):
            raw = raw.replace(b"tsodso.exchange", f"{pkg}.exchange".encode())
        dest = tmp / pkg / Path(f).relative_to("src/tsodso")
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_bytes(raw)
    (tmp / pkg / "__init__.py").write_text("")
    sys.path.insert(0, str(tmp))
    return (
        importlib.import_module(f"{pkg}.exchange.standards"),
        importlib.import_module(f"{pkg}.exchange.messages"),
    )


def _renderer(standards: ModuleType, run: Any, std: str, keep: bool) -> Callable[[], Any]:
    """What ``run.rendered(std, keep)`` does, with ``standards``' code."""
    scn, life = run.prepared.scn, run.life
    msgs = [*run.messages.messages, *life.messages.messages]
    base = life.baselines[scn.config.settlement.baseline]

    def render() -> Any:
        ctx = standards.RenderContext.of(scn, life.settlement.lines, base)
        return standards.render_log(msgs, ctx, std, keep=keep)

    return render


def _alternate(fns: Sequence[Callable[[], Any]], repeats: int) -> list[tuple[float, Any]]:
    """(median seconds, last result) of each function, run in turn ``repeats`` times."""
    walls: list[list[float]] = [[] for _ in fns]
    out: list[Any] = [None for _ in fns]
    for _ in range(repeats):
        for k, fn in enumerate(fns):
            t0 = time.perf_counter()
            out[k] = fn()
            walls[k].append(time.perf_counter() - t0)
    return [(statistics.median(w), o) for w, o in zip(walls, out, strict=True)]


def _sizes(payload_bytes: Callable[[Any], int], msgs: list[Message]) -> Callable[[], list[int]]:
    return lambda: [payload_bytes(m.payload) for m in msgs]


def measure(
    scenario: str, models: list[str], repeats: int, rev: str | None
) -> list[dict[str, Any]]:
    """One row per (model, standard), and one per model for ``payload_bytes``."""
    old = baseline(rev) if rev else None
    prep = tsodso.prepare(scenario)
    rows: list[dict[str, Any]] = []
    for model in models:
        run = tsodso.run(prep, model)
        msgs = [*run.messages.messages, *run.life.messages.messages]
        for std in new_standards.STANDARDS:
            row: dict[str, Any] = {"model": model, "standard": std}
            for keep, suffix in ((True, ""), (False, "_sizes")):
                fns = [_renderer(new_standards, run, std, keep)]
                if old is not None:
                    fns.insert(0, _renderer(old[0], run, std, keep))
                timed = _alternate(fns, repeats)
                log = timed[-1][1]
                row[f"before{suffix}_s"] = timed[0][0] if old is not None else float("nan")
                row[f"after{suffix}_s"] = timed[-1][0]
                same = old is None or log_digest(timed[0][1]) == log_digest(log)
                row["identical"] = row.get("identical", True) and same
                if keep:
                    row["messages"] = len(log.messages)
                    row["documents"] = sum(len(m.documents) for m in log.messages)
                    row["bytes"] = log.total_bytes
                elif log.total_bytes != row["bytes"]:
                    row["identical"] = False
            rows.append(row)
        fns = [_sizes(new_messages.payload_bytes, msgs)]
        if old is not None:
            fns.insert(0, _sizes(old[1].payload_bytes, msgs))
        timed = _alternate(fns, repeats)
        sizes = timed[-1][1]
        rows.append(
            {
                "model": model,
                "standard": PAYLOADS,
                "messages": len(msgs),
                "documents": 0,
                "bytes": sum(sizes),
                "before_s": timed[0][0] if old is not None else float("nan"),
                "after_s": timed[-1][0],
                "before_sizes_s": float("nan"),
                "after_sizes_s": float("nan"),
                "identical": sizes == [m.bytes for m in msgs] and timed[0][1] == sizes,
            }
        )
    return rows


def main() -> None:
    """Print the per-standard table, then the rows per model and standard."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--scenario", default="default")
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--baseline", default=BASELINE, help="git revision, or 'none'")
    args = ap.parse_args()
    rev = None if args.baseline == "none" else args.baseline
    t = pd.DataFrame(measure(args.scenario, args.models.split(","), args.repeats, rev))
    per = (
        t.groupby("standard", sort=False)
        .agg(
            messages=("messages", "sum"),
            documents=("documents", "sum"),
            bytes=("bytes", "sum"),
            before_s=("before_s", "sum"),
            after_s=("after_s", "sum"),
            before_sizes_s=("before_sizes_s", "sum"),
            after_sizes_s=("after_sizes_s", "sum"),
            identical=("identical", "all"),
        )
        .reset_index()
    )
    std = per[per.standard != PAYLOADS]
    per.loc[len(per)] = [
        "all standards",
        None,
        int(std.documents.sum()),
        int(std.bytes.sum()),
        std.before_s.sum(),
        std.after_s.sum(),
        std.before_sizes_s.sum(),
        std.after_sizes_s.sum(),
        bool(std.identical.all()),
    ]
    per["ratio"] = per.before_s / per.after_s
    per["sizes_ratio"] = per.before_sizes_s / per.after_sizes_s
    per.loc[per.standard == PAYLOADS, ["before_sizes_s", "after_sizes_s", "sizes_ratio"]] = None
    print(f"## Rendering a run's messages, {args.scenario} scenario, models {args.models}")
    print(
        f"## (seconds: sum over the models of the median of {args.repeats}; before: the"
        f" renderers of {rev or '-'}, run alternately with this code's; _s: documents with"
        " their bytes, as RunResult.rendered gives them; _sizes_s: sizes only, as every"
        " model run measures its messages)"
    )
    digits = {c: 3 for c in t.columns if c.endswith("_s")} | {"ratio": 2, "sizes_ratio": 2}
    cols = ["standard", "messages", "documents", "bytes", "before_s", "after_s", "ratio"]
    cols += ["before_sizes_s", "after_sizes_s", "sizes_ratio", "identical"]
    print(per[cols].round(digits).to_string(index=False))
    print()
    t["ratio"] = t.before_s / t.after_s
    t["sizes_ratio"] = t.before_sizes_s / t.after_sizes_s
    cols = ["model", cols[0], *cols[2:]]
    print(t[cols].round(digits).to_string(index=False))
    if not t.identical.all():
        sys.exit("a rendering's bytes differ from the baseline's")


if __name__ == "__main__":
    main()
