"""Grid importers: simbench codes (with their 2016 quarter-hour profiles), pandapower's
bundled cases, pandapower JSON files, MATPOWER case files (.m, .mat) and CGMES models
(``grids.cgmes``). simbench grids are
cached after the first build.

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
from tsodso.schema.files import InputFileError, read_input_bytes, read_input_text

#: largest pandapower JSON grid read (bytes): the simbench HV/MV grid is about 32 MB
MAX_GRID_JSON_BYTES = 1 << 30
#: largest MATPOWER case file read (bytes): case13659pegase.m is about 5 MB
MAX_MATPOWER_BYTES = 1 << 28
#: MATPOWER cases tsodso ships (``matpower:NAME``), written from pandapower's copies
BUNDLED_MATPOWER = Path(__file__).parent / "cases"


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
    gen_p_mw: pd.DataFrame  # voltage-controlled generators: flat at their set point


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
    """Load the grid named by ``spec``: 'simbench:CODE', 'pandapower:CASE', a .json path,
    'matpower:PATH' (a MATPOWER .m or .mat case; a bare name such as 'case14' is a case
    tsodso ships), a bare .m / .mat path or 'cgmes:PATH[,PATH...]' (CGMES 2.4.15 profiles:
    .zip or .xml files, or folders of them; ``grids.cgmes``)."""
    kind, _, name = spec.partition(":")
    if kind == "simbench" and name:
        return _simbench_net(name)
    if kind == "matpower" and name:
        return matpower_net(name)
    if kind == "cgmes" and name:
        from tsodso.grids.cgmes import cgmes_net  # imports this module's error

        return cgmes_net(name)
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
    if path.suffix in (".m", ".mat"):
        return matpower_net(spec)
    raise GridSourceError(
        f"grid {spec!r}: expected 'simbench:CODE', 'pandapower:CASE', 'matpower:PATH', "
        "'cgmes:PATH' or an existing .json, .m or .mat file"
    )


def matpower_net(name: str) -> pandapowerNet:
    """A MATPOWER case (format version 2) as a pandapower net through pandapower's
    ``from_mpc`` (.m files parsed by matpowercaseframes, .mat by scipy). ``name`` is a path
    to a .m or .mat file, or the name of a case tsodso ships (``case14``).

    Every bus is marked transmission (``tsodso_layer``): a MATPOWER case is a bus-branch
    transmission model whose base kV often says nothing of its layer (case14's transformer
    secondaries are 0.208 kV buses); an interpretation of the format, not a MATPOWER rule."""
    from pandapower.converter.matpower import from_mpc

    from tsodso.grids.topology import LAYER_COLUMN

    path = Path(name)
    if path.suffix not in (".m", ".mat"):
        bundled = BUNDLED_MATPOWER / f"{name}.m"
        if not bundled.is_file():
            shipped = sorted(p.stem for p in BUNDLED_MATPOWER.glob("*.m"))
            raise GridSourceError(
                f"grid 'matpower:{name}': expected a .m or .mat file or a case tsodso ships "
                f"({', '.join(shipped)})"
            )
        path = bundled
    try:
        read_input_bytes(path, MAX_MATPOWER_BYTES)  # exists, a plain file, not too large
    except InputFileError as err:
        raise GridSourceError(f"grid {str(path)!r}: {err}") from None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # pandapower warns per converted element
            net = from_mpc(str(path), f_hz=50)
    except Exception as err:  # the parser and converter raise many kinds for a bad file
        raise GridSourceError(
            f"grid {str(path)!r}: not a MATPOWER case (format version 2) pandapower can "
            f"convert ({type(err).__name__}: {str(err)[:160]})"
        ) from None
    if not isinstance(net, pandapowerNet) or "bus" not in net or not len(net.bus):
        raise GridSourceError(f"grid {str(path)!r}: a MATPOWER case without buses")
    net.bus[LAYER_COLUMN] = "transmission"
    _fix_matpower_taps(net)
    _impedances_as_transformers(net)
    return net


def _fix_matpower_taps(net: pandapowerNet) -> None:
    """A MATPOWER branch's off-nominal ratio is fixed: from_ppc writes it as a tap position
    without tap limits. It is folded into the winding's rated voltage (the same ratio, no
    tap changer), so that the day's tap schedule (``scenario.build._set_daily_taps``) and
    the AC check's tap model leave it as the case has it."""
    tr = net.trafo
    if not len(tr):
        return
    steps = tr.tap_pos.fillna(0) - tr.tap_neutral.fillna(0)
    ratio = 1 + steps * tr.tap_step_percent.fillna(0) / 100
    if "tap_changer_type" in tr:  # pandapower ignores taps without a tap changer type
        ratio = ratio.where(tr.tap_changer_type.notna(), 1.0)
    hv = tr.tap_side.fillna("hv") == "hv"
    tr["vn_hv_kv"] = tr.vn_hv_kv.where(~hv, tr.vn_hv_kv * ratio)
    tr["vn_lv_kv"] = tr.vn_lv_kv.where(hv, tr.vn_lv_kv * ratio)
    tr["tap_pos"] = 0.0
    tr["tap_neutral"] = 0.0
    tr["tap_step_percent"] = np.nan
    tr["tap_changer_type"] = None


def _impedances_as_transformers(net: pandapowerNet) -> None:
    """from_ppc writes a MATPOWER branch with ratio 0 or 1 between buses of different base kV
    as a pandapower impedance. A symmetric one without shunt parts is a series impedance in
    per unit, which is exactly a 2-winding transformer between the two bus voltages at the
    impedance's base power, no magnetising branch and no tap; it is replaced by one (in
    place). Any other impedance stays and is refused as unsupported."""
    imp = net.get("impedance", None)
    if imp is None or imp.empty:
        return
    shunt = [c for c in ("gf_pu", "bf_pu", "gt_pu", "bt_pu") if c in imp]
    plain = (
        np.isclose(imp.rft_pu, imp.rtf_pu)
        & np.isclose(imp.xft_pu, imp.xtf_pu)
        & (imp[shunt].fillna(0).abs().sum(axis=1) == 0)
        & (imp.xft_pu.abs() > 0)
    )
    for i in imp.index[plain]:
        row = imp.loc[i]
        a, b = int(row.from_bus), int(row.to_bus)
        va, vb = float(net.bus.vn_kv.at[a]), float(net.bus.vn_kv.at[b])
        hv, lv = (a, b) if va >= vb else (b, a)
        z = float(np.hypot(row.rft_pu, row.xft_pu))
        pp.create_transformer_from_parameters(
            net,
            hv_bus=hv,
            lv_bus=lv,
            sn_mva=float(row.sn_mva),
            vn_hv_kv=float(net.bus.vn_kv.at[hv]),
            vn_lv_kv=float(net.bus.vn_kv.at[lv]),
            vk_percent=100 * z,
            vkr_percent=100 * float(row.rft_pu),
            pfe_kw=0.0,
            i0_percent=0.0,
            in_service=bool(row.in_service),
            name=f"impedance {i}",
        )
    net.impedance.drop(imp.index[plain], inplace=True)


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
    their nominal values. Voltage-controlled generators (``gen``) stay at their dispatch
    set point (a MATPOWER case's one operating point) in every period."""
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
    gen = net.get("gen", pd.DataFrame(columns=["p_mw"]))
    scale_g = gen.scaling.to_numpy(dtype=float) if "scaling" in gen else 1.0
    gpp = np.tile(gen.p_mw.to_numpy(dtype=float) * scale_g, (periods, 1))
    return ElementProfiles(
        load_p_mw=pd.DataFrame(lpp * scale_l, columns=net.load.index),
        load_q_mvar=pd.DataFrame(lqq * scale_l, columns=net.load.index),
        sgen_p_mw=pd.DataFrame(spp * scale_s, columns=net.sgen.index),
        gen_p_mw=pd.DataFrame(gpp, columns=gen.index),
    )


#: element tables the scenario, its DC and LinDistFlow models and the AC check do not model
#: today, with what each is (an in-service one is refused, never dropped silently)
UNSUPPORTED = {
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
    with its count and first indices (empty when the grid is fully supported); also the
    voltage-controlled generators and shunts the models take only in some forms."""
    out = _unsupported_forms(net)
    for table, what in UNSUPPORTED.items():
        df = net.get(table, None)
        if df is None or df.empty:
            continue
        on = df.index[df.in_service.astype(bool)] if "in_service" in df else df.index
        if len(on):
            ids = ", ".join(str(i) for i in on[:5]) + (", ..." if len(on) > 5 else "")
            out.append(f"{len(on)} {what} (pandapower '{table}': {ids})")
    return out


def _unsupported_forms(net: pandapowerNet) -> list[str]:
    """Generators and shunts in forms the models do not take: a generator that is a slack
    (the external grid is the slack) and shunts with steps other than their one setting
    are taken as they are; only these are refused."""
    out = []
    gen = net.get("gen", None)
    if gen is not None and len(gen):
        on = gen[gen.in_service.astype(bool)]
        slack = on.index[on.slack.astype(bool)] if "slack" in on else on.index[:0]
        if len(slack):
            ids = ", ".join(str(i) for i in slack[:5])
            out.append(f"{len(slack)} slack generators (pandapower 'gen' with slack=True: {ids})")
        buses = on.bus[on.bus.duplicated(keep=False)]
        clash = [int(b) for b in buses.unique() if on.vm_pu[on.bus == b].nunique() > 1]
        if clash:
            out.append(
                f"voltage-controlled generators with different set points at one bus "
                f"(buses {', '.join(str(b) for b in clash[:5])})"
            )
    return out
