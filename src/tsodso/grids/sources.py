"""Grid importers: simbench codes (with their 2016 quarter-hour profiles), pandapower's
bundled cases, and pandapower JSON files. simbench grids are cached after the first build.

Owns: turning a grid spec string into a pandapower net plus per-element absolute profiles
for one window of one day. Must not: decide DERs, markets or scaling.
"""

from __future__ import annotations

import io
import pickle
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandapower as pp
import pandas as pd
from pandapower.auxiliary import pandapowerNet

from tsodso.schema.environment import cache_path
from tsodso.schema.files import InputFileError, read_input_text

#: largest pandapower JSON grid read (bytes): the simbench HV/MV grid is about 32 MB
MAX_GRID_JSON_BYTES = 1 << 30


class GridSourceError(ValueError):
    """The grid spec names no grid we can load."""


class GridCacheWarning(UserWarning):
    """A cached grid could not be read and was rebuilt from its source."""


@dataclass(frozen=True)
class ElementProfiles:
    """Absolute profiles for one window (rows = periods, columns = element index)."""

    load_p_mw: pd.DataFrame
    load_q_mvar: pd.DataFrame
    sgen_p_mw: pd.DataFrame


def cache_dir() -> Path:
    """Where built grids are cached: $TSODSO_CACHE or ~/.cache/tsodso."""
    d = cache_path()
    try:
        d.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise GridSourceError(f"grid cache {d}: cannot create it ({err.strerror})") from None
    return d


def _simbench_net(code: str) -> pandapowerNet:
    import simbench as sb  # heavy import; only when needed

    key = f"simbench-{code}-sb{sb.__version__}-pp{pp.__version__}.pkl"
    path = cache_dir() / key
    if path.exists():
        try:
            with path.open("rb") as fh:
                cached = pickle.load(fh)
            if isinstance(cached, pandapowerNet) and len(cached.bus):
                return cached
            why = f"it holds a {type(cached).__name__}, not a grid"
        except Exception as err:  # truncated, corrupt or foreign: any unpickling error
            why = f"{type(err).__name__}: {str(err)[:100]}"
        warnings.warn(
            f"the cached grid {path} could not be read ({why}); rebuilding it from simbench",
            GridCacheWarning,
            stacklevel=2,
        )
        path.unlink(missing_ok=True)
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
    if path.suffix == ".json":
        return _json_net(path)
    raise GridSourceError(
        f"grid {spec!r}: expected 'simbench:CODE', 'pandapower:CASE' or an existing .json file"
    )


def _json_net(path: Path) -> pandapowerNet:
    """A pandapower net from a JSON file, read safely; anything else is refused."""
    try:
        text = read_input_text(path, MAX_GRID_JSON_BYTES)
    except InputFileError as err:
        raise GridSourceError(f"grid {str(path)!r}: {err}") from None
    try:
        net = pp.from_json(io.StringIO(text))
    except Exception as err:  # pandapower raises many kinds for a foreign file
        raise GridSourceError(
            f"grid {str(path)!r}: not a pandapower net ({type(err).__name__}: {str(err)[:100]})"
        ) from None
    if not isinstance(net, pandapowerNet) or "bus" not in net or not len(net.bus):
        raise GridSourceError(f"grid {str(path)!r}: not a pandapower net with buses")
    return net


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


#: element tables the scenario, its DC and LinDistFlow models and the AC check do not model
#: today, with what each is (an in-service one is refused, never dropped silently)
UNSUPPORTED = {
    "gen": "voltage-controlled generators",
    "shunt": "shunts",
    "trafo3w": "3-winding transformers",
    "impedance": "impedances",
    "ward": "wards",
    "xward": "extended wards",
    "dcline": "DC lines",
    "storage": "storage elements",
    "motor": "motors",
    "asymmetric_load": "asymmetric loads",
    "asymmetric_sgen": "asymmetric static generators",
}


def unsupported_elements(net: pandapowerNet) -> list[str]:
    """Every in-service element of a table the models do not take, one line per table
    with its count and first indices (empty when the grid is fully supported)."""
    out = []
    for table, what in UNSUPPORTED.items():
        df = net.get(table, None)
        if df is None or df.empty:
            continue
        on = df.index[df.in_service.astype(bool)] if "in_service" in df else df.index
        if len(on):
            ids = ", ".join(str(i) for i in on[:5]) + (", ..." if len(on) > 5 else "")
            out.append(f"{len(on)} {what} (pandapower '{table}': {ids})")
    return out
