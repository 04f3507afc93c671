"""Rational polynomial camera (RPC00B) models: reading, projection, localisation, and image-space bias.

Readers: OSSIM/OTB keyword lists (``.geom``, ``type: ossimRpcModel``, 0-based line/sample) and DIMAP RPC XML
(``<LINE_NUM_COEFF_1>``… inside ``Inverse_Model``/``Global_RFM``, 1-based: the offsets are converted to
0-based on reading by subtracting 1, and written back 1-based).

Projection ``(lon, lat, h) → (line, sample)`` evaluates the 20-term RPC00B cubic ratios on normalised
coordinates; localisation ``(line, sample, h) → (lon, lat)`` inverts it by Newton iterations with a numerical
Jacobian. Our own code (≈150 lines): rpcm would bring srtm4 (network SRTM download) and s3 extras, and reads
neither OSSIM ``.geom`` files nor our crop convention; shareloc is heavier than these few formulas.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import numpy.typing as npt
from lxml import etree

from viq_interfaces.errors import MissingInputError

F64 = npt.NDArray[np.float64]


class RpcError(MissingInputError):
    """A corrupt or incomplete RPC file (exit code 134)."""


@dataclass(frozen=True)
class Rpc:
    """An RPC00B model with 0-based line/sample offsets."""

    line_off: float
    samp_off: float
    lat_off: float
    lon_off: float
    height_off: float
    line_scale: float
    samp_scale: float
    lat_scale: float
    lon_scale: float
    height_scale: float
    line_num: F64
    line_den: F64
    samp_num: F64
    samp_den: F64

    def with_offsets(self, d_line: float, d_samp: float) -> Rpc:
        """The same model with ``d_line``/``d_samp`` added to the line/sample offsets."""
        return replace(self, line_off=self.line_off + d_line, samp_off=self.samp_off + d_samp)

    def project(self, lon: F64, lat: F64, h: F64) -> tuple[F64, F64]:
        """Ground → image (line, sample), 0-based full-scene pixels."""
        x = (np.asarray(lon, dtype=np.float64) - self.lon_off) / self.lon_scale
        y = (np.asarray(lat, dtype=np.float64) - self.lat_off) / self.lat_scale
        z = (np.asarray(h, dtype=np.float64) - self.height_off) / self.height_scale
        t = _terms(x, y, z)
        line = (t @ self.line_num) / (t @ self.line_den) * self.line_scale + self.line_off
        samp = (t @ self.samp_num) / (t @ self.samp_den) * self.samp_scale + self.samp_off
        return np.asarray(line, dtype=np.float64), np.asarray(samp, dtype=np.float64)

    def localize(self, line: F64, samp: F64, h: F64, iterations: int = 12) -> tuple[F64, F64]:
        """Image (line, sample) at height ``h`` → (lon, lat), Newton iterations from the model centre."""
        line = np.atleast_1d(np.asarray(line, dtype=np.float64))
        samp = np.atleast_1d(np.asarray(samp, dtype=np.float64))
        hh = np.broadcast_to(np.asarray(h, dtype=np.float64), line.shape)
        lon = np.full(line.shape, self.lon_off)
        lat = np.full(line.shape, self.lat_off)
        dl, dp = 1e-5 * self.lon_scale, 1e-5 * self.lat_scale
        for _ in range(iterations):
            l0, s0 = self.project(lon, lat, hh)
            l1, s1 = self.project(lon + dl, lat, hh)
            l2, s2 = self.project(lon, lat + dp, hh)
            a, b = (l1 - l0) / dl, (l2 - l0) / dp
            c, d = (s1 - s0) / dl, (s2 - s0) / dp
            rl, rs = line - l0, samp - s0
            det = a * d - b * c
            dlon = (d * rl - b * rs) / det
            dlat = (-c * rl + a * rs) / det
            lon = lon + dlon
            lat = lat + dlat
            if float(np.max(np.abs(rl))) < 1e-6 and float(np.max(np.abs(rs))) < 1e-6:
                break
        return lon, lat


def _terms(x: F64, y: F64, z: F64) -> F64:
    """The 20 RPC00B terms in order: 1 L P H LP LH PH L² P² H² PLH L³ LP² LH² L²P P³ PH² L²H P²H H³."""
    one = np.ones_like(x)
    return np.stack([one, x, y, z, x * y, x * z, y * z, x * x, y * y, z * z, x * y * z, x**3, x * y * y,
                     x * z * z, x * x * y, y**3, y * z * z, x * x * z, y * y * z, z**3], axis=-1)


_SCALARS = {
    "line_off": "line_off", "samp_off": "samp_off", "lat_off": "lat_off", "long_off": "lon_off",
    "height_off": "height_off", "line_scale": "line_scale", "samp_scale": "samp_scale", "lat_scale": "lat_scale",
    "long_scale": "lon_scale", "height_scale": "height_scale",
}


def _build(values: dict[str, float], coeffs: dict[str, list[float | None]], source: str) -> Rpc:
    missing = [k for k in _SCALARS.values() if k not in values]
    if missing:
        raise RpcError(f"{source}: RPC field(s) {', '.join(missing)} missing")
    arrays: dict[str, F64] = {}
    for name in ("line_num", "line_den", "samp_num", "samp_den"):
        vals = coeffs.get(name, [])
        if len(vals) != 20 or any(v is None for v in vals):
            raise RpcError(f"{source}: {name} needs 20 coefficients, found {sum(v is not None for v in vals)}")
        arrays[name] = np.array(vals, dtype=np.float64)
    for k in ("line_scale", "samp_scale", "lat_scale", "lon_scale", "height_scale"):
        if values[k] == 0 or not math.isfinite(values[k]):
            raise RpcError(f"{source}: {k} must be a finite non-zero number")
    v = values
    return Rpc(
        line_off=v["line_off"], samp_off=v["samp_off"], lat_off=v["lat_off"], lon_off=v["lon_off"],
        height_off=v["height_off"], line_scale=v["line_scale"], samp_scale=v["samp_scale"],
        lat_scale=v["lat_scale"], lon_scale=v["lon_scale"], height_scale=v["height_scale"],
        line_num=arrays["line_num"], line_den=arrays["line_den"], samp_num=arrays["samp_num"],
        samp_den=arrays["samp_den"],
    )


def read_geom(path: str | Path) -> Rpc:
    """Read an OSSIM keyword-list RPC (``.geom``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="strict")
    except (OSError, UnicodeDecodeError) as err:
        raise RpcError(f"{p}: cannot read RPC file: {err}") from err
    values: dict[str, float] = {}
    coeffs: dict[str, list[float | None]] = {n: [None] * 20 for n in ("line_num", "line_den", "samp_num", "samp_den")}
    for raw in text.splitlines():
        if ":" not in raw:
            continue
        key, _, val = raw.partition(":")
        key, val = key.strip(), val.strip()
        m = re.fullmatch(r"(line|samp)_(num|den)_coeff_(\d\d)", key)
        try:
            if m:
                idx = int(m.group(3))
                if idx >= 20:
                    raise RpcError(f"{p}: coefficient index {idx} out of range")
                coeffs[f"{m.group(1)}_{m.group(2)}"][idx] = float(val)
            elif key in _SCALARS:
                values[_SCALARS[key]] = float(val)
        except ValueError as err:
            raise RpcError(f"{p}: {key}: not a number ({val!r})") from err
    return _build(values, coeffs, str(p))


def read_dimap(path: str | Path) -> Rpc:
    """Read a DIMAP RPC XML (inverse model; 1-based offsets converted to 0-based)."""
    p = Path(path)
    try:
        root = etree.parse(str(p)).getroot()
    except (OSError, etree.XMLSyntaxError) as err:
        raise RpcError(f"{p}: cannot read RPC XML: {err}") from err
    scope = root.find(".//Inverse_Model")
    base = scope if scope is not None else root
    values: dict[str, float] = {}
    coeffs: dict[str, list[float | None]] = {n: [None] * 20 for n in ("line_num", "line_den", "samp_num", "samp_den")}
    names = {"LINE_OFF": "line_off", "SAMP_OFF": "samp_off", "LAT_OFF": "lat_off", "LONG_OFF": "lon_off",
             "HEIGHT_OFF": "height_off", "LINE_SCALE": "line_scale", "SAMP_SCALE": "samp_scale",
             "LAT_SCALE": "lat_scale", "LONG_SCALE": "lon_scale", "HEIGHT_SCALE": "height_scale"}
    try:
        for el in root.iter():
            tag = str(el.tag)
            if tag in names and el.text:
                values[names[tag]] = float(el.text)
        for el in base.iter():
            m = re.fullmatch(r"(LINE|SAMP)_(NUM|DEN)_COEFF_(\d+)", str(el.tag))
            if m and el.text:
                idx = int(m.group(3)) - 1
                if not 0 <= idx < 20:
                    raise RpcError(f"{p}: {el.tag} out of range")
                coeffs[f"{m.group(1).lower()}_{m.group(2).lower()}"][idx] = float(el.text)
    except ValueError as err:
        raise RpcError(f"{p}: non-numeric RPC value: {err}") from err
    for k in ("line_off", "samp_off"):
        if k in values:
            values[k] -= 1.0
    return _build(values, coeffs, str(p))


def read_rpc(path: str | Path) -> Rpc:
    """``.geom`` keyword list or DIMAP XML, by content."""
    p = Path(path)
    if not p.is_file():
        raise RpcError(f"{p}: RPC file not found")
    head = p.read_bytes()[:200].lstrip()
    return read_dimap(p) if head.startswith(b"<") else read_geom(p)


def write_geom(path: Path, rpc: Rpc, template: Path | None = None) -> None:
    """Write ``rpc`` as an OSSIM keyword list; other keys are copied from ``template`` when given."""
    lines: list[str] = []
    inv = {v: k for k, v in _SCALARS.items()}
    done: set[str] = set()
    if template is not None:
        for raw in template.read_text(encoding="utf-8").splitlines():
            key = raw.partition(":")[0].strip()
            m = re.fullmatch(r"(line|samp)_(num|den)_coeff_(\d\d)", key)
            if m:
                arr = getattr(rpc, f"{m.group(1)}_{m.group(2)}")
                lines.append(f"{key}:  {float(arr[int(m.group(3))])!r}")
                done.add(key)
            elif key in _SCALARS:
                lines.append(f"{key}:  {getattr(rpc, _SCALARS[key])!r}")
                done.add(key)
            else:
                lines.append(raw)
    for attr, key in inv.items():
        if key not in done:
            lines.append(f"{key}:  {getattr(rpc, attr)!r}")
    for name in ("line_num", "line_den", "samp_num", "samp_den"):
        for i in range(20):
            key = f"{name}_coeff_{i:02d}"
            if key not in done:
                lines.append(f"{key}:  {float(getattr(rpc, name)[i])!r}")
    if template is None:
        lines += ["polynomial_format:  B", "type:  ossimRpcModel"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_dimap(path: Path, rpc: Rpc) -> None:
    """Write a minimal DIMAP-like RPC XML (inverse model, 1-based offsets)."""
    root = etree.Element("Dimap_Document")
    inv = etree.SubElement(etree.SubElement(root, "Global_RFM"), "Inverse_Model")
    for name, arr in (("LINE_NUM", rpc.line_num), ("LINE_DEN", rpc.line_den), ("SAMP_NUM", rpc.samp_num),
                      ("SAMP_DEN", rpc.samp_den)):
        for i, v in enumerate(arr):
            etree.SubElement(inv, f"{name}_COEFF_{i + 1}").text = repr(float(v))
    other = etree.SubElement(root, "RFM_Validity")
    for tag, val in (("LINE_OFF", rpc.line_off + 1), ("SAMP_OFF", rpc.samp_off + 1), ("LAT_OFF", rpc.lat_off),
                     ("LONG_OFF", rpc.lon_off), ("HEIGHT_OFF", rpc.height_off), ("LINE_SCALE", rpc.line_scale),
                     ("SAMP_SCALE", rpc.samp_scale), ("LAT_SCALE", rpc.lat_scale), ("LONG_SCALE", rpc.lon_scale),
                     ("HEIGHT_SCALE", rpc.height_scale)):
        etree.SubElement(other, tag).text = repr(float(val))
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def predicted_mapping(
    ref: Rpc, sec: Rpc, ref_offset: tuple[float, float], sec_offset: tuple[float, float], lines: F64, samps: F64,
    height: F64,
) -> tuple[F64, F64]:
    """Crop pixel (line, samp) of the reference image → crop pixel of the secondary, through the ground at
    ``height`` (ellipsoidal). Offsets are (col, row) of the crops in their full scenes."""
    lon, lat = ref.localize(lines + ref_offset[1], samps + ref_offset[0], height)
    l2, s2 = sec.project(lon, lat, height)
    return l2 - sec_offset[1], s2 - sec_offset[0]


@dataclass(frozen=True)
class RpcBias:
    """Image-space bias of the secondary model: model position − true position, px (secondary image)."""

    line: float
    samp: float
    sigma_line: float
    sigma_samp: float
    n_points: int
    rmse_px: float
    affine_line: F64
    """Residual field after the mean: line bias as c0 + c1·line + c2·samp (reference crop pixels)."""
    affine_samp: F64


def bias_from_shifts(
    map_line: F64, map_samp: F64, nodes_line: F64, nodes_samp: F64, sl: F64, ss: F64, step: int
) -> tuple[F64, F64]:
    """Shifts measured in the reference frame → secondary-image displacements ``J·s`` (J from the mapping grid).

    ``map_line``/``map_samp`` hold the mapping on a coarse grid of spacing ``step`` (reference crop pixels).
    """
    from scipy import ndimage

    gl = np.gradient(map_line, step)
    gs = np.gradient(map_samp, step)
    coords = [nodes_line / step, nodes_samp / step]
    dl_dl = ndimage.map_coordinates(gl[0], coords, order=1, mode="nearest")
    dl_ds = ndimage.map_coordinates(gl[1], coords, order=1, mode="nearest")
    ds_dl = ndimage.map_coordinates(gs[0], coords, order=1, mode="nearest")
    ds_ds = ndimage.map_coordinates(gs[1], coords, order=1, mode="nearest")
    return dl_dl * sl + dl_ds * ss, ds_dl * sl + ds_ds * ss
