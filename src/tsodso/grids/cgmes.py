"""CGMES grids (IEC 61970-600, CGMES 2.4.15 profiles EQ, TP, SSH, SV; zipped or as XML
files) as pandapower nets through pandapower's CIM converter (``cim2pp.from_cim``).

Owns: reading the named files safely, choosing the angle reference and marking the layers.
Must not: decide DERs, markets or profiles (a CGMES model is one operating point: its loads
and generators are flat over the day, as a MATPOWER case's are).

Interpretations (each an assumption about the format's use, not a CGMES rule):

- Every bus is transmission (``tsodso_layer``): a CGMES individual grid model is an
  operator's transmission model; distribution feeders are attached with ``[feeders]``.
- The angle reference is the machine or external injection with the highest reference
  priority (SSH ``referencePriority`` > 0, 1 the highest), as pandapower chooses it; a
  model without one takes the angle reference node of its solved state (SV
  ``TopologicalIsland.AngleRefTopologicalNode``). The reference machine becomes the
  external grid at its bus (its set-point voltage; the power it balances is free), as
  pandapower's MATPOWER converter does with a case's reference bus. A model with neither
  is refused: tsodso does not pick a slack for a grid operator.
- A line without a current limit (no ``OperationalLimitSet`` in EQ) is unrated: its
  ``max_i_ka`` is set to pandapower's MATPOWER value for an unrated branch (rateA = 0),
  99,999 MVA at the line's voltage, so that both importers give the same meaning.
"""

from __future__ import annotations

import io
import logging
import math
import warnings
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandapower as pp
from lxml import etree
from pandapower.auxiliary import pandapowerNet

from tsodso.grids.sources import GridSourceError
from tsodso.grids.topology import LAYER_COLUMN
from tsodso.schema.files import InputFileError, read_input_bytes

#: largest CGMES file read (bytes, each .xml or .zip): a national IGM is some 100 MB
MAX_CGMES_BYTES = 1 << 30
#: the apparent power of an unrated branch (pandapower's MATPOWER converter, rateA = 0)
UNRATED_MVA = 99_999.0
_RDF = "{http://www.w3.org/1999/02/22-rdf-syntax-ns#}"
_ANGLE_REF = "TopologicalIsland.AngleRefTopologicalNode"


def cgmes_files(spec: str) -> list[Path]:
    """The files named by a ``cgmes:`` spec: comma-separated paths, each a .zip, an .xml or
    a folder (its .zip and .xml files); a boundary set is one more path."""
    out: list[Path] = []
    problems: list[str] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            problems.append("an empty path between commas")
            continue
        path = Path(part)
        if path.is_dir():
            found = sorted(p for p in path.iterdir() if p.suffix.lower() in (".zip", ".xml"))
            if not found:
                problems.append(f"{part}: a folder without .zip or .xml files")
            out.extend(found)
        elif path.suffix.lower() in (".zip", ".xml"):
            out.append(path)
        else:
            problems.append(f"{part}: expected a .zip, an .xml file or a folder of them")
    for path in out:
        try:
            read_input_bytes(path, MAX_CGMES_BYTES)  # exists, a plain file, not too large
        except InputFileError as err:
            problems.append(f"{path}: {err}")
    if problems:
        raise GridSourceError(f"grid 'cgmes:{spec}': " + "; ".join(problems))
    return out


def _xml_documents(paths: list[Path]) -> Iterator[tuple[str, bytes]]:
    for path in paths:
        if path.suffix.lower() == ".xml":
            yield str(path), path.read_bytes()
            continue
        try:
            with zipfile.ZipFile(path) as zf:
                for name in zf.namelist():
                    if name.lower().endswith(".xml"):
                        yield f"{path}!{name}", zf.read(name)
        except zipfile.BadZipFile:
            raise GridSourceError(f"grid {str(path)!r}: not a zip file") from None


def angle_reference_nodes(paths: list[Path]) -> list[str]:
    """The topological nodes (rdf ids, without '#') that the models' SV profiles name as
    their islands' angle reference."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)
    found: list[str] = []
    for where, data in _xml_documents(paths):
        if _ANGLE_REF.encode() not in data:
            continue
        try:
            root = etree.parse(io.BytesIO(data), parser).getroot()
        except etree.XMLSyntaxError as err:
            raise GridSourceError(f"grid {where!r}: not well-formed XML ({err})") from None
        for el in root.iter():
            if isinstance(el.tag, str) and el.tag.endswith(_ANGLE_REF):
                found.append(str(el.get(f"{_RDF}resource", "")).lstrip("#"))
    return found


def cgmes_net(spec: str) -> pandapowerNet:
    """A CGMES model (``spec``: the part after ``cgmes:``) as a pandapower net."""
    from pandapower.converter.cim.cim2pp.from_cim import from_cim

    paths = cgmes_files(spec)
    log = logging.getLogger("pandapower")
    level = log.level
    log.setLevel(logging.ERROR)  # the converter logs every step at INFO and WARNING
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = from_cim(file_list=[str(p) for p in paths])
    except Exception as err:  # the parser and converter raise many kinds for a bad model
        raise GridSourceError(
            f"grid 'cgmes:{spec}': not a CGMES model pandapower can convert "
            f"({type(err).__name__}: {str(err)[:160]})"
        ) from None
    finally:
        log.setLevel(level)
    if not isinstance(net, pandapowerNet) or "bus" not in net or not len(net.bus):
        raise GridSourceError(f"grid 'cgmes:{spec}': a CGMES model without topological nodes")
    crossing = cross_voltage_lines(net)
    if crossing:
        raise GridSourceError(
            f"grid 'cgmes:{spec}': {len(crossing)} AC line segments join buses of different "
            "nominal voltage (a CGMES ACLineSegment has one base voltage; pandapower would "
            f"drop the ratio between them): {'; '.join(crossing[:10])}"
            + (" ..." if len(crossing) > 10 else "")
        )
    net.bus[LAYER_COLUMN] = "transmission"
    _plain_booleans(net)
    _set_reference(net, spec, paths)
    _rate_unrated_lines(net)
    return net


def cross_voltage_lines(net: pandapowerNet) -> list[str]:
    """Each in-service line between buses of different nominal voltage, as 'name (a kV -
    b kV)'."""
    ln = net.line[net.line.in_service.astype(bool)]
    va = net.bus.vn_kv.loc[ln.from_bus].to_numpy(dtype=float)
    vb = net.bus.vn_kv.loc[ln.to_bus].to_numpy(dtype=float)
    bad = np.flatnonzero(~np.isclose(va, vb))
    names = ln.name.astype(str).to_numpy() if "name" in ln else ln.index.astype(str).to_numpy()
    return [f"{names[i]} ({va[i]:g} kV - {vb[i]:g} kV)" for i in bad]


def _set_reference(net: pandapowerNet, spec: str, paths: list[Path]) -> None:
    """One external grid as the angle reference (see the module's interpretations)."""
    gen = net.gen
    on_ext = net.ext_grid.index[net.ext_grid.in_service.astype(bool)]
    slack = gen.index[gen.slack.astype(bool) & gen.in_service.astype(bool)] if len(gen) else []
    if not len(on_ext) and not len(slack):
        refs = set(angle_reference_nodes(paths))
        at = net.bus.index[net.bus.origin_id.astype(str).isin(refs)]
        slack = gen.index[gen.bus.isin(at) & gen.in_service.astype(bool)] if len(gen) else []
        if not len(slack):
            raise GridSourceError(
                f"grid 'cgmes:{spec}': the model names no angle reference: no machine or "
                "external injection with SSH referencePriority > 0 and no SV "
                "TopologicalIsland.AngleRefTopologicalNode at a bus with a machine"
                + (f" (SV names {', '.join(sorted(refs))})" if refs else "")
            )
        slack = slack[:1]
    for i in slack:
        pp.create_ext_grid(
            net,
            bus=int(gen.bus.at[i]),
            vm_pu=float(gen.vm_pu.at[i]),
            va_degree=0.0,
            name=str(gen.name.at[i]),
        )
    net.gen.drop(slack, inplace=True)


def _rate_unrated_lines(net: pandapowerNet) -> None:
    ln = net.line
    unrated = ~np.isfinite(ln.max_i_ka.to_numpy(dtype=float))
    if unrated.any():
        vn = net.bus.vn_kv.loc[ln.from_bus[unrated]].to_numpy(dtype=float)
        ln.loc[unrated, "max_i_ka"] = UNRATED_MVA / (math.sqrt(3) * vn)


def _plain_booleans(net: pandapowerNet) -> None:
    """The converter's nullable boolean columns (``oltc``, ``RegulatingControl.enabled``)
    as object columns with the same values: pandapower's create functions append rows
    with NaN in columns they do not know, which a nullable boolean column refuses."""
    for table in ("bus", "line", "trafo", "load", "gen", "sgen", "ext_grid", "shunt", "switch"):
        df = net.get(table, None)
        if df is None:
            continue
        for col in df.columns[df.dtypes.astype(str) == "boolean"]:
            df[col] = df[col].astype(object)
