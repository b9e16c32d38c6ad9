"""Result tables of one run as Parquet files plus a manifest, written whole (an edge: file
formats).

A run directory is written into a hidden temporary directory beside its target and moved
into place only when every file and the manifest are written, so an interrupted run leaves
no directory that looks complete. A target that exists and is not empty is replaced only
when it is a run directory tsodso wrote (its manifest lists exactly its files) or when the
caller says so (``replace``); it is then replaced whole, never mixed with the new files.
The manifest records when and how the run was made (time, command line, options, tsodso
version and git revision where known, a hash of the grid data) and a SHA-256 per file.
Wide tables have key tables: ``branch_keys`` maps each ``branch_N`` column of
``branch_loading`` to its pandapower element, ``node_keys`` each bus to its node and to the
``node_voltages`` column that holds it.

Owns: the on-disk layout of ``tsodso run --out DIR`` (with the report's compact tables in
``details/``, see ``report.details``). Must not: compute results.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from tsodso.report.details import write_details
from tsodso.report.files import (
    DIR_MODE,
    dumps_strict,
    output_dir_problems,
    sha256_file,
    write_atomic,
)

PACKAGES = (
    "tsodso",
    "numpy",
    "scipy",
    "pandas",
    "pandapower",
    "simbench",
    "highspy",
    "power-grid-model",
    "pydantic",
)
MANIFEST = "manifest.json"
CREATED_BY = "tsodso run"


def package_versions() -> dict[str, str]:
    """Python's and the numerically relevant packages' versions."""
    out = {"python": platform.python_version()}
    for p in PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = "not installed"
    return out


def git_revision() -> dict[str, Any] | None:
    """The commit of the tsodso source checkout this code runs from (and whether tracked
    files differ from it); None when tsodso is not run from a git checkout."""
    root = Path(__file__).resolve().parents[3]
    if not (root / "pyproject.toml").is_file() or not (root / "src" / "tsodso").is_dir():
        return None  # an installed package, not a checkout
    try:
        rev = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
        )
        if rev.returncode != 0:
            return None
        dirty = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return {"commit": rev.stdout.strip(), "modified": bool(dirty.stdout.strip())}


def grid_data_sha256(net: Any) -> str:
    """SHA-256 over the grid as the run used it: every element table of the pandapower net
    (ratings scaled, taps set) and its profiles, in a fixed order."""
    h = hashlib.sha256()

    def add(name: str, df: pd.DataFrame) -> None:
        h.update(name.encode())
        h.update(",".join(map(str, df.columns)).encode())
        try:
            h.update(pd.util.hash_pandas_object(df, index=True).to_numpy().tobytes())
        except TypeError:  # unhashable cells (lists, dicts): their text
            h.update(df.to_json(default_handler=str).encode())

    for name in sorted(k for k in net if isinstance(net[k], pd.DataFrame)):
        if not name.startswith("res_") and len(net[name]):
            add(name, net[name])
    profiles = getattr(net, "profiles", None)
    if isinstance(profiles, dict):
        for name in sorted(profiles):
            if isinstance(profiles[name], pd.DataFrame):
                add(f"profiles.{name}", profiles[name])
    return h.hexdigest()


def key_tables(scn: Any, ac_model: Any) -> dict[str, pd.DataFrame]:
    """The keys of the wide tables: ``branch_keys`` (column ``branch_N`` of branch_loading:
    pandapower table and index, buses, layer, rating) and ``node_keys`` (each pandapower
    bus: its node, the node_voltages column that holds it, layer)."""
    grid = scn.grid
    net = scn.net
    kind = np.asarray(ac_model.branch_kind).astype(str)
    elem = np.asarray(ac_model.branch_element, dtype=int)
    is_line = kind == "line"
    from_bus = np.where(
        is_line,
        net.line.from_bus.reindex(elem).to_numpy(),
        net.trafo.hv_bus.reindex(elem).to_numpy(),
    )
    to_bus = np.where(
        is_line,
        net.line.to_bus.reindex(elem).to_numpy(),
        net.trafo.lv_bus.reindex(elem).to_numpy(),
    )
    layer = np.array(["transmission", *(f.id for f in grid.feeders)])
    node_layer = layer[np.asarray(grid.node_layer) + 1]
    b2n = grid.bus_to_node
    from_bus, to_bus = from_bus.astype(int), to_bus.astype(int)
    at_from = node_layer[b2n.loc[from_bus].to_numpy()]
    at_to = node_layer[b2n.loc[to_bus].to_numpy()]
    # as the AC check counts them: a line touching a feeder and a transformer whose
    # low-voltage side is in one belong to that feeder
    branch_layer = np.where(is_line & (at_from != "transmission"), at_from, at_to)
    branches = pd.DataFrame(
        {
            "column": [f"branch_{i}" for i in range(len(kind))],
            "branch": np.arange(len(kind)),
            "element_table": kind,
            "element_index": elem,
            "from_bus": from_bus,
            "to_bus": to_bus,
            "layer": branch_layer,
            "distribution": branch_layer != "transmission",
        }
    )
    node = b2n.to_numpy()
    nodes = pd.DataFrame(
        {
            "bus": b2n.index.to_numpy(),
            "node": node,
            "column": [str(x) for x in np.asarray(grid.node_bus)[node]],
            "vn_kv": np.asarray(grid.node_vn_kv)[node],
            "layer": node_layer[node],
        }
    )
    return {"branch_keys": branches, "node_keys": nodes}


def run_dir_problems(out_dir: str, replace: bool) -> list[str]:
    """Every reason why ``--out out_dir`` cannot receive a run, checked before any work:
    not writable, an existing file, or a non-empty directory tsodso did not write (unless
    ``replace``)."""
    problems = output_dir_problems("--out", out_dir)
    if problems:
        return problems
    path = Path(out_dir)
    if path.is_dir() and any(path.iterdir()) and not replace and not is_run_dir(path):
        return [
            f"--out {out_dir}: a non-empty directory that is not a tsodso run directory; "
            "choose another one or pass --replace to replace it whole"
        ]
    return []


def files_under(path: Path) -> set[str]:
    """Every file under ``path``, as a POSIX path relative to it (how the manifest names
    them: ``details/ledger.parquet``); directories themselves are not listed."""
    return {p.relative_to(path).as_posix() for p in path.rglob("*") if not p.is_dir()}


def is_run_dir(path: Path) -> bool:
    """Whether ``path`` is a run directory tsodso wrote: its manifest says so and lists
    every file under it, in subdirectories too (nothing a user added would be lost by
    replacing it)."""
    try:
        doc = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
        listed = {str(f) for f in doc["files"]} | {MANIFEST}
        return doc.get("created_by") == CREATED_BY and files_under(path) <= listed
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def _move_into_place(tmp: Path, out_dir: Path) -> None:
    """Put the finished ``tmp`` at ``out_dir``, replacing what is there whole."""
    if not out_dir.exists():
        os.rename(tmp, out_dir)
        return
    old = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.old-"))
    os.rmdir(old)
    os.rename(out_dir, old)
    try:
        os.rename(tmp, out_dir)
    except BaseException:
        os.rename(old, out_dir)  # put the previous run back
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_run(
    out_dir: Path,
    scn: Any,
    prep: Any,
    result: Any,
    extra: Mapping[str, pd.DataFrame] | None = None,
    replace: bool = False,
    context: Mapping[str, Any] | None = None,
    also: Callable[[Path], list[Path]] | None = None,
) -> list[Path]:
    """Write every table of one run (clearing, registration, lifecycle, settlement, key
    tables) as Parquet plus a manifest into ``out_dir``, whole; return the final paths.
    ``extra`` adds tables (e.g. DOEs); ``also(dir)`` writes more files into the directory
    being assembled (e.g. the rendered messages), listed and checksummed like the rest;
    ``context`` adds what the caller knows of how the run
    was asked for (command line, options, start time) to the manifest. Raises
    ``FileExistsError`` for a target ``run_dir_problems`` refuses."""
    problems = run_dir_problems(str(out_dir), replace)
    if problems:
        raise FileExistsError("; ".join(problems))
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    scn = prep.scn  # the registered scenario: bids are the prequalified offers
    o = result.outcome
    tables = {**result.tables(), **key_tables(scn, prep.ac_model), **(extra or {})}
    tmp = Path(tempfile.mkdtemp(dir=out_dir.parent, prefix=f".{out_dir.name}.tmp-"))
    try:
        os.chmod(tmp, DIR_MODE)  # as a plain mkdir would make it, once moved into place
        files: dict[str, dict[str, Any]] = {}
        for name, df in tables.items():
            p = tmp / f"{name}.parquet"
            df.to_parquet(p, index=False)
            files[p.name] = {"sha256": sha256_file(p), "bytes": p.stat().st_size}
        more = also(tmp) if also is not None else []
        for p in [*write_details(tmp, prep, [result]), *more]:  # what `tsodso report` draws
            files[p.relative_to(tmp).as_posix()] = {
                "sha256": sha256_file(p),
                "bytes": p.stat().st_size,
            }
        manifest = {
            "created_by": CREATED_BY,
            **dict(context or {}),
            "finished_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "tsodso": {"version": package_versions()["tsodso"], "git": git_revision()},
            "model": result.model.as_dict(),
            "scenario": {
                "name": scn.config.name,
                "digest": scn.config.digest(),
                "config": scn.config.model_dump(mode="json"),
                "sizes": scn.sizes(),
            },
            "grid": {"spec": scn.config.grid, "sha256": grid_data_sha256(scn.net)},
            "seed": scn.config.seed,
            "solver": {
                "status": str(o.status),
                "has_solution": o.has_solution,
                "steps": [
                    {
                        "name": s.name,
                        "status": s.status,
                        "objective_eur": s.objective_eur,
                        "solve_s": round(s.solve_s, 3),
                    }
                    for s in o.steps
                ],
            },
            "versions": package_versions(),
            "kpis": result.kpis,
            "files": files,
        }
        write_atomic(tmp / MANIFEST, dumps_strict(manifest) + "\n")
        _move_into_place(tmp, out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return [out_dir / name for name in files] + [out_dir / MANIFEST]
