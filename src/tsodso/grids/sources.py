"""Grid importers: simbench codes (with their 2016 quarter-hour profiles), pandapower's
bundled cases, and pandapower JSON files. simbench grids are cached after the first build.

Owns: turning a grid spec string into a pandapower net plus per-element absolute profiles
for one window of one day. Must not: decide DERs, markets or scaling.
"""

from __future__ import annotations

import os
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
from pandapower.auxiliary import pandapowerNet


class GridSourceError(ValueError):
    """The grid spec names no grid we can load."""


@dataclass(frozen=True)
class ElementProfiles:
    """Absolute profiles for one window (rows = periods, columns = element index)."""

    load_p_mw: pd.DataFrame
    load_q_mvar: pd.DataFrame
    sgen_p_mw: pd.DataFrame


def cache_dir() -> Path:
    """Where built grids are cached: $TSODSO_CACHE or ~/.cache/tsodso."""
    d = Path(os.environ.get("TSODSO_CACHE", Path.home() / ".cache" / "tsodso"))
    d.mkdir(parents=True, exist_ok=True)
    return d


def _simbench_net(code: str) -> pandapowerNet:
    import simbench as sb  # heavy import; only when needed

    key = f"simbench-{code}-sb{sb.__version__}-pp{pp.__version__}.pkl"
    path = cache_dir() / key
    if path.exists():
        with path.open("rb") as fh:
            net: pandapowerNet = pickle.load(fh)
            return net
    try:
        net = sb.get_simbench_net(code)
    except Exception as err:  # simbench raises plain errors for unknown codes
        raise GridSourceError(f"simbench has no grid {code!r}: {err}") from None
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        pickle.dump(net, fh, protocol=pickle.HIGHEST_PROTOCOL)
    tmp.replace(path)
    return net


def load_net(spec: str) -> pandapowerNet:
    """Load the grid named by ``spec`` ('simbench:CODE', 'pandapower:CASE', or a .json path)."""
    kind, _, name = spec.partition(":")
    if kind == "simbench" and name:
        return _simbench_net(name)
    if kind == "pandapower" and name:
        import pandapower.networks as pn

        fn = getattr(pn, name, None)
        if fn is None or not callable(fn):
            raise GridSourceError(f"pandapower.networks has no case {name!r}")
        net: pandapowerNet = fn()
        return net
    path = Path(spec)
    if path.suffix == ".json" and path.exists():
        return pp.from_json(str(path))
    raise GridSourceError(
        f"grid {spec!r}: expected 'simbench:CODE', 'pandapower:CASE' or an existing .json file"
    )


def window_profiles(net: pandapowerNet, day: int, first: int, periods: int) -> ElementProfiles:
    """Absolute load and generator profiles for ``periods`` quarter-hours of ``day``.

    simbench nets carry relative profiles (net.profiles); other nets get flat profiles at
    their nominal values."""
    rows = np.arange(day * 96 + first, day * 96 + first + periods)
    profiles = getattr(net, "profiles", None)
    if isinstance(profiles, dict) and "load" in profiles and len(profiles["load"]):
        lp, rp = profiles["load"], profiles["renewables"]
        pw = profiles.get("powerplants", pd.DataFrame(index=rp.index))

        def rel(table: pd.DataFrame, cols: pd.Series, suffix: str = "") -> np.ndarray:
            out = np.ones((len(rows), len(cols)))
            for j, c in enumerate(cols.astype(str) + suffix):
                for src in (table, rp, pw):
                    if c in src.columns:
                        out[:, j] = src[c].to_numpy(dtype=float)[rows]
                        break
            return out

        lpp = rel(lp, net.load.profile, "_pload") * net.load.p_mw.to_numpy()
        lqq = rel(lp, net.load.profile, "_qload") * net.load.q_mvar.to_numpy()
        spp = rel(rp, net.sgen.profile) * net.sgen.p_mw.to_numpy()
    else:
        lpp = np.tile(net.load.p_mw.to_numpy(dtype=float), (periods, 1))
        lqq = np.tile(net.load.q_mvar.to_numpy(dtype=float), (periods, 1))
        spp = np.tile(net.sgen.p_mw.to_numpy(dtype=float), (periods, 1))
    scale_l = net.load.scaling.to_numpy(dtype=float) if "scaling" in net.load else 1.0
    scale_s = net.sgen.scaling.to_numpy(dtype=float) if "scaling" in net.sgen else 1.0
    return ElementProfiles(
        load_p_mw=pd.DataFrame(lpp * scale_l, columns=net.load.index),
        load_q_mvar=pd.DataFrame(lqq * scale_l, columns=net.load.index),
        sgen_p_mw=pd.DataFrame(spp * scale_s, columns=net.sgen.index),
    )
