"""Writing simulated products: band GeoTIFFs, the XML metadata header, the truth sidecar and truth GIPPs.

Product layout (``<stem>`` e.g. ``VE_TEST_VSC_RAWDAT_SUDOUE_1_20180601_FLAT001``)::

    <stem>.HDR                  XML metadata (Earth Explorer header + product information)
    <stem>.DBL.DIR/<stem>_B04.TIF   one GeoTIFF per band
    <stem>_TRUTH.json           the truth sidecar (raw products only), arrays in <stem>_TRUTH_*.npy
    gipps/VE_TEST_GIP_…EEF      truth GIPPs (+ .npy sidecars)

Product type codes: ``VSC_RAWDAT`` raw DN in sensor geometry (uint16, nominal georeferencing),
``VSC_L1VALD`` L1-like TOA radiance on the ground grid (float32, W m-2 sr-1 µm-1, nodata −9999),
``AUX_REFIMG`` reference ortho image (noise-free radiance, no blur, no displacement), ``TEC_SIMTRU`` the
truth sidecar. Every byte is a function of the parameters and the seed (creation dates = sensing time).
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import rasterio
from lxml import etree
from rasterio.shutil import copy as rio_copy
from rasterio.windows import Window

from viq_proc_simulator.engine import BLOCK_LINES, NODATA_L1, Acquisition
from viq_venus import geometry
from viq_venus.bands import band_code, tdi_code
from viq_venus.gipp import (
    ArrayRef,
    BandNoiseModel,
    BandPhysicalGain,
    ColRange,
    DarkGippContent,
    DefectItem,
    NoiseModelContent,
    OutOfOrderContent,
    PhysicalGainContent,
    RelativeSensitivityContent,
    SpikeCoefficients,
    SteeringBiasContent,
    TdiConfigurationDefect,
    TdiNoiseModel,
    TdiPhysicalGain,
    make_header,
    nickname,
    save_array,
    sidecar_path,
    write_gipp,
)
from viq_venus.gipp.models import GippContent
from viq_venus.radiometry import absolute_gain, noise_coefficients

NS = "http://eop-cfi.esa.int/CFI"
CREATOR = "venus-simulator"
CREATOR_VERSION = "01.00"
TRUTH_FORMAT = "viq-simulator-truth/1"

PRODUCT_TYPES = {"raw": "VSC_RAWDAT", "l1": "VSC_L1VALD", "reference": "AUX_REFIMG"}
TRUTH_TYPE = "TEC_SIMTRU"


@dataclass
class WrittenProduct:
    """One product on disk."""

    kind: str
    product_type: str
    header: Path
    band_files: dict[str, Path]
    site: str
    bands: tuple[str, ...]
    tdi: int | None
    sensing_start: datetime
    sensing_stop: datetime
    footprint_wkt: str
    truth: Path | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class WrittenGipp:
    """One truth GIPP on disk."""

    gipp_type: str
    path: Path
    band: str | None
    tdi: int | None
    validity_start: datetime
    validity_stop: datetime


def sha256_of(path: Path) -> str:
    """Hex sha256 of a file."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _save_npy(path: Path, array: npt.NDArray[Any]) -> None:
    buf = io.BytesIO()
    np.save(buf, np.ascontiguousarray(array), allow_pickle=False)
    path.write_bytes(buf.getvalue())


def product_stem(acq: Acquisition, kind: str, file_class: str) -> str:
    """``VE_<class>_<type>_<NICK8>_<yyyymmdd>_<KIND><nnn>``."""
    tag = acq.spec.tag or f"{acq.kind.upper().replace('_', '')[:6]}{acq.spec.index:03d}"
    day = acq.spec.sensing_time.strftime("%Y%m%d")
    return f"VE_{file_class}_{PRODUCT_TYPES[kind]}_{nickname(acq.spec.site.name)}_{day}_{tag}"


def sensing_stop(acq: Acquisition) -> datetime:
    """Sensing start + lines × line period (microseconds)."""
    return acq.spec.sensing_time + timedelta(microseconds=round(acq.lines * acq.line_period * 1e6))


def _utc(value: datetime) -> str:
    return "UTC=" + value.strftime("%Y-%m-%dT%H:%M:%S")


def _tdi_values(tdis: list[int] | tuple[int, ...]) -> str:
    """Header form of a TDI set: ``08`` or ``32 16 08`` (FACTS.md §3.17)."""
    return " ".join(f"{t:02d}" for t in sorted(set(tdis), reverse=True))


def _to_cog(path: Path, compress: bool) -> None:
    """Rewrite the strip GeoTIFF ``path`` as a Cloud-Optimized GeoTIFF (512-px tiles, overviews), in place."""
    tmp = path.with_name(path.name + ".strip.tif")
    path.replace(tmp)
    try:
        rio_copy(tmp, path, driver="COG", compress="DEFLATE" if compress else "NONE", blocksize=512,
                 overview_resampling="AVERAGE", num_threads=1)
    finally:
        tmp.unlink()


def _profile(acq: Acquisition, dtype: str, nodata: float | None, compress: bool) -> dict[str, Any]:
    prof: dict[str, Any] = {
        "driver": "GTiff",
        "width": acq.pixels,
        "height": acq.lines,
        "count": 1,
        "dtype": dtype,
        "crs": acq.grid.crs,
        "transform": acq.grid.transform,
        "tiled": False,
        "blockysize": 16,
    }
    if nodata is not None:
        prof["nodata"] = nodata
    if compress:
        prof["compress"] = "deflate"
    return prof


def _header_xml(acq: Acquisition, kind: str, stem: str, band_files: dict[str, Path], extra: dict[str, str]) -> bytes:
    def q(tag: str) -> str:
        return f"{{{NS}}}{tag}"

    p = acq.params
    root = etree.Element(q("Earth_Explorer_Header"), nsmap={None: NS})  # type: ignore[dict-item]
    root.set("schema_version", "1.0")
    fixed = etree.SubElement(root, q("Fixed_Header"))
    start, stop = acq.spec.sensing_time, sensing_stop(acq)
    descr = {"raw": "SimulatedRawProduct", "l1": "SimulatedL1Product", "reference": "ReferenceImage"}[kind]
    for tag, text in (
        ("File_Name", stem),
        ("File_Description", descr),
        ("Notes", f"Simulated by {CREATOR} {CREATOR_VERSION}; acquisition {acq.kind}; seed {acq.spec.seed}."),
        ("Mission", "VENuS"),
        ("File_Class", p.file_class),
        ("File_Type", PRODUCT_TYPES[kind]),
    ):
        etree.SubElement(fixed, q(tag)).text = text
    vp = etree.SubElement(fixed, q("Validity_Period"))
    etree.SubElement(vp, q("Validity_Start")).text = _utc(start)
    etree.SubElement(vp, q("Validity_Stop")).text = _utc(stop)
    etree.SubElement(fixed, q("File_Version")).text = "0001"
    src = etree.SubElement(fixed, q("Source"))
    for tag, text in (("System", "VIQ"), ("Creator", CREATOR), ("Creator_Version", CREATOR_VERSION),
                      ("Creation_Date", _utc(start))):
        etree.SubElement(src, q(tag)).text = text
    sph = etree.SubElement(etree.SubElement(root, q("Variable_Header")), q("Specific_Product_Header"))
    inst = etree.SubElement(sph, q("Instance_Id"))
    etree.SubElement(inst, q("Nick_Name")).text = nickname(acq.spec.site.name)
    etree.SubElement(inst, q("Acquisition_Date")).text = start.strftime("%Y%m%d")
    info = etree.SubElement(sph, q("Product_Information"))
    level = {"raw": "L0", "l1": "L1", "reference": "L1"}[kind]
    for tag, text in (
        ("Product_Level", level),
        ("Acquisition_Date_Time", _utc(start)),
        ("Site", acq.spec.site.name),
        ("Acquisition_Type", acq.kind),
        ("TDI_Configuration_Values", _tdi_values(list(acq.tdis.values()))),
        ("TDI_Configuration_Code", tdi_code(tuple(sorted(set(acq.tdis.values()))))),
        ("Seed", str(acq.spec.seed)),
        ("Orbit_Altitude_km", repr(acq.cfg.orbit.altitude_km)),
        ("GSD_m", repr(acq.gsd)),
        ("Line_Period_s", repr(acq.line_period)),
        *extra.items(),
    ):
        etree.SubElement(info, q(tag)).text = text
    cov = etree.SubElement(info, q("Useful_Image_Geo_Coverage"))
    etree.SubElement(cov, q("Footprint_WKT")).text = acq.grid.footprint_wkt()
    names = ("Upper_Left_Corner", "Upper_Right_Corner", "Lower_Right_Corner", "Lower_Left_Corner")
    for name, (lon, lat) in zip(names, acq.grid.corners_lonlat()[:4], strict=True):
        corner = etree.SubElement(cov, q(name))
        etree.SubElement(corner, q("Long")).text = repr(lon)
        etree.SubElement(corner, q("Lat")).text = repr(lat)
    wl = etree.SubElement(info, q("List_of_Band_Central_Wavelength"), count=str(len(band_files)))
    for sn, band in enumerate(band_files, start=1):
        el = etree.SubElement(wl, q("Band_Central_Wavelength"), sn=str(sn), band_id=band_code(band), unit="nm")
        el.text = repr(acq.cfg.band(band).centre_nm)
    img = etree.SubElement(sph, q("Image_Information"))
    geometry_kind = "SENSOR (nominal georeferencing)" if kind == "raw" else "GROUND"
    dtype = {"raw": "UINT16", "l1": "FLOAT32", "reference": "FLOAT32"}[kind]
    t = acq.grid.transform
    for tag, text in (
        ("Format", "GTiff"),
        ("Data_Type", dtype),
        ("Significant_Bits", "10" if kind == "raw" else "32"),
        ("No_Data", "none" if kind == "raw" else repr(NODATA_L1)),
        ("Unit", "DN" if kind == "raw" else "W.m-2.sr-1.um-1"),
        ("Geometry", geometry_kind),
        ("Lines", str(acq.lines)),
        ("Columns", str(acq.pixels)),
        ("CRS", acq.grid.crs),
        ("Geo_Transform", " ".join(repr(float(v)) for v in (t.c, t.a, t.b, t.f, t.d, t.e))),
    ):
        etree.SubElement(img, q(tag)).text = text
    org = etree.SubElement(sph, q("Product_Organization"))
    files = etree.SubElement(org, q("List_of_Image_Files"), count=str(len(band_files)))
    mixed = acq.common_tdi is None
    for sn, (band, path) in enumerate(band_files.items(), start=1):
        el = etree.SubElement(files, q("Image_File"), sn=str(sn), band_id=band_code(band), sha256=sha256_of(path))
        if mixed and kind != "reference":
            el.set("tdi", f"{acq.bands[band].tdi:02d}")
        el.text = f"{path.parent.name}/{path.name}"
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True))


def write_acquisition(acq: Acquisition, out_dir: Path, progress: Any = None) -> list[WrittenProduct]:
    """Render every band block by block and write the requested products plus the truth sidecar."""
    p = acq.params
    kinds = [k for k in ("raw", "l1", "reference") if k in p.products]
    if "reference" in kinds and acq.scene is None:
        kinds.remove("reference")
    stems = {k: product_stem(acq, k, p.file_class) for k in kinds}
    band_files: dict[str, dict[str, Path]] = {k: {} for k in kinds}
    for k in kinds:
        (out_dir / f"{stems[k]}.DBL.DIR").mkdir(parents=True, exist_ok=True)
    raw_stem = product_stem(acq, "raw", p.file_class)
    truth_bands: dict[str, Any] = {}
    for bi, band in enumerate(p.bands):
        code = band_code(band)
        dsts: dict[str, Any] = {}
        try:
            for k in kinds:
                path = out_dir / f"{stems[k]}.DBL.DIR" / f"{stems[k]}_{code}.TIF"
                band_files[k][band] = path
                dtype = "uint16" if k == "raw" else "float32"
                nodata = None if k == "raw" else NODATA_L1
                dsts[k] = rasterio.open(path, "w", **_profile(acq, dtype, nodata, p.compress))
            saturated = 0
            spikes: list[tuple[int, int, float]] = []
            for block in range(acq.n_blocks()):
                i0 = block * BLOCK_LINES
                out = acq.render_block(band, block)
                win = Window(0, i0, acq.pixels, out.dn.shape[0])
                saturated += int(out.saturated.sum())
                spikes.extend(out.spikes)
                if "raw" in dsts:
                    dsts["raw"].write(out.dn, 1, window=win)
                if "l1" in dsts:
                    dsts["l1"].write(acq.l1_from_dn(band, out.dn), 1, window=win)
                if "reference" in dsts:
                    dsts["reference"].write(acq.reference_rows(band, i0, i0 + out.dn.shape[0]), 1, window=win)
        finally:
            for ds in dsts.values():
                ds.close()
        if p.cog:
            for k in kinds:
                _to_cog(band_files[k][band], p.compress)
        st = acq.bands[band]
        d = st.displacement
        disp_name = f"{raw_stem}_TRUTH_{code}_DISPLACEMENT.npy"
        _save_npy(out_dir / disp_name, np.stack([d.dx_line, d.dy_line, d.yaw_rad_line], axis=1))
        truth_bands[band] = {
            "tdi": st.tdi,
            "focal_plane_position_px": geometry.focal_plane_position_px(acq.cfg, band),
            "centre_nm": acq.cfg.band(band).centre_nm,
            "absolute_gain": st.gain,
            "absolute_gain_l1": st.gain_l1,
            "noise_a": st.noise_a,
            "noise_b": st.noise_b,
            "time_offset_s": d.time_offset_s,
            "view_angle_rad": geometry.view_angle_rad(acq.cfg, band),
            "focal_plane_offset_px": list(geometry.focal_plane_offsets_px(acq.cfg)[band]),
            "terrain_px_per_m": d.terrain_px_per_m,
            "centre_column": d.centre_column,
            "displacement_file": disp_name,
            "reference_radiance": acq.cfg.band(band).reference_radiance,
            "saturated_pixels": saturated,
            "spikes": [list(s) for s in spikes],
            "defects": [{"column": df.column, "type": df.defect_type} for df in st.maps.defects],
            "hot_pixels": [int(h) for h in st.maps.hot],
            "spike_columns": [int(c) for c in st.maps.spike_columns],
        }
        if progress is not None:
            progress(100.0 * (bi + 1) / len(p.bands), f"band {band} written")
    truth_path = _write_truth(acq, out_dir, raw_stem, truth_bands)
    written = []
    for k in kinds:
        extra: dict[str, str] = {}
        if acq.kind == "flat" and acq.spec.level is not None:
            extra["Flat_Radiance"] = repr(float(acq.spec.level))
        hdr = out_dir / f"{stems[k]}.HDR"
        hdr.write_bytes(_header_xml(acq, k, stems[k], band_files[k], extra))
        written.append(
            WrittenProduct(
                kind=k,
                product_type=PRODUCT_TYPES[k],
                header=hdr,
                band_files=band_files[k],
                site=acq.spec.site.name,
                bands=tuple(p.bands),
                tdi=acq.common_tdi if k != "reference" else None,
                sensing_start=acq.spec.sensing_time,
                sensing_stop=sensing_stop(acq),
                footprint_wkt=acq.grid.footprint_wkt(),
                truth=truth_path,
                metadata={"acquisition": acq.kind, "seed": acq.spec.seed, "stem": stems[k],
                          **({"tdi_per_band": acq.tdis} if acq.common_tdi is None and k != "reference" else {})},
            )
        )
    return written


def shifted_dem(dem: npt.NDArray[np.float32], shift: tuple[float, float, float]) -> npt.NDArray[np.float32]:
    """``out(col, row) = dem(col + dx, row + dy) - dz`` by cubic-spline interpolation; cells whose source
    falls outside the DEM take the nearest edge value (a border of about ``|dx|``, ``|dy|`` pixels)."""
    from scipy import ndimage

    dx, dy, dz = shift
    rows, cols = np.mgrid[0 : dem.shape[0], 0 : dem.shape[1]].astype(np.float64)
    moved: npt.NDArray[np.float64] = ndimage.map_coordinates(
        dem.astype(np.float64), [rows + dy, cols + dx], order=3, mode="nearest"
    )
    return (moved - dz).astype(np.float32)


def _write_truth(acq: Acquisition, out_dir: Path, stem: str, bands: dict[str, Any]) -> Path:
    p = acq.params
    att = acq.cfg.attitude
    files: dict[str, str] = {}
    if acq.dem is not None:
        name = f"{stem}_TRUTH_DEM.npy"
        _save_npy(out_dir / name, acq.dem)
        files["dem_m"] = name
        tif = f"{stem}_TRUTH_DEM.TIF"
        prof = {**_profile(acq, "float32", None, True), "tiled": True, "blockxsize": 256, "blockysize": 256}
        with rasterio.open(out_dir / tif, "w", **prof) as ds:
            ds.write(acq.dem.astype(np.float32), 1)
            ds.update_tags(1, UNIT="m", DESCRIPTION="truth terrain height on the ground grid")
        files["dem_geotiff"] = tif
        shift = acq.params.dem_secondary_shift
        if shift is not None:
            tif2 = f"{stem}_TRUTH_DEM_SECONDARY.TIF"
            with rasterio.open(out_dir / tif2, "w", **prof) as ds:
                ds.write(shifted_dem(acq.dem, shift), 1)
                ds.update_tags(1, UNIT="m", DESCRIPTION="truth terrain shifted by dem_secondary_shift")
            files["dem_secondary_geotiff"] = tif2
    if acq.profile is not None:
        name = f"{stem}_TRUTH_SLITHER_PROFILE.npy"
        _save_npy(out_dir / name, acq.profile)
        files["side_slither_profile"] = name
    t = acq.grid.transform
    truth: dict[str, Any] = {
        "format": TRUTH_FORMAT,
        "product": stem,
        "acquisition": acq.kind,
        "seed": acq.spec.seed,
        "site": acq.spec.site.name,
        "sensing_start": acq.spec.sensing_time.isoformat(),
        "sensing_stop": sensing_stop(acq).isoformat(),
        "lines": acq.lines,
        "pixels": acq.pixels,
        "tdi": acq.common_tdi,
        "gsd_m": acq.gsd,
        "line_period_s": acq.line_period,
        "altitude_km": acq.cfg.orbit.altitude_km,
        "flat_radiance": acq.spec.level if acq.kind == "flat" else None,
        "edge": {
            "angle_deg": p.edge_angle_deg,
            "direction": p.edge_direction,
            "low": p.edge_low,
            "high": p.edge_high,
            "centre": [(acq.pixels - 1) / 2.0, (acq.lines - 1) / 2.0],
        } if acq.kind == "edge" else None,
        "grid": {"crs": acq.grid.crs, "transform": [t.a, t.b, t.c, t.d, t.e, t.f]},
        "scene": acq.scene.description if acq.scene is not None else None,
        "scene_seed": acq.scene_seed if acq.scene is not None else None,
        "attitude": {
            "roll_bias_urad": att.roll_bias_urad,
            "pitch_bias_urad": att.pitch_bias_urad,
            "yaw_bias_urad": att.yaw_bias_urad,
            "focal_homothety": att.focal_homothety,
            "jitter": [
                {"axis": s.axis, "frequency_hz": s.frequency_hz, "amplitude_urad": s.amplitude_urad,
                 "phase_rad": s.phase_rad}
                for s in acq.jitter
            ],
        },
        "conventions": "pixel (i, j) of band b sees nominal ground position (i + dy, j + dx); "
        "dx = dx_line[i] + focal_homothety*(j - centre_column); "
        "dy = dy_line[i] - yaw_rad_line[i]*(j - centre_column) - h(i, j)*terrain_px_per_m "
        "(dy_line includes focal_homothety*focal_plane_position_px)",
        "bands": bands,
        "files": files,
        **({"dem_secondary_shift": {"dx_px": acq.params.dem_secondary_shift[0],
                                    "dy_px": acq.params.dem_secondary_shift[1],
                                    "dz_m": acq.params.dem_secondary_shift[2],
                                    "convention": "secondary(col, row) = dem(col + dx, row + dy) - dz"}}
           if acq.dem is not None and acq.params.dem_secondary_shift is not None else {}),
        "instrument_config_sha256": acq.cfg.fingerprint(),
        "instrument_config": acq.cfg.model_dump(mode="json"),
    }
    path = out_dir / f"{stem}_TRUTH.json"
    path.write_text(json.dumps(truth, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    return path


def write_truth_gipps(acq: Acquisition, folder: Path, serial: int) -> list[WrittenGipp]:
    """Truth GIPPs of an acquisition: DARKCU, RELSEN (band+TDI), OUTORD (band), PHGAIN, NOISMO, SBPARS."""
    folder.mkdir(parents=True, exist_ok=True)
    cfg = acq.cfg
    p = acq.params
    day = datetime.combine(acq.spec.sensing_time.date(), datetime.min.time())
    stop = day + timedelta(hours=23, minutes=59, seconds=59)
    created = acq.spec.sensing_time
    out: list[WrittenGipp] = []

    def emit(content: GippContent, band: str | None = None, tdi: int | None = None) -> None:
        header = make_header(
            content, creator=CREATOR, creator_version=CREATOR_VERSION, creation_date=created,
            file_class=p.file_class, validity_start=day, validity_stop=stop, serial=serial, band=band, tdi=tdi,
            notes=f"Truth of simulated acquisition {acq.kind} seed {acq.spec.seed}",
        )
        path = write_gipp(folder, header, content)
        out.append(WrittenGipp(content.FILE_TYPE, path, band, tdi, day, stop))

    def refs(file_type: str, band: str, tdi: int | None, arrays: dict[str, npt.NDArray[Any]]) -> dict[str, ArrayRef]:
        from viq_venus.gipp import GippName

        name = str(GippName(p.file_class, file_type, "L", "ALLSITES", serial, day.date(), stop.date(), band,
                            (tdi,) if tdi else None))
        return {k: save_array(sidecar_path(folder, name, k), v) for k, v in arrays.items()}

    px = cfg.pixels
    for band in p.bands:
        maps = acq.bands[band].maps
        tdi = acq.bands[band].tdi
        code = band_code(band)
        r = refs("GIP_DARKCU", band, tdi, {"dark_currents": maps.dark.astype(np.float32)})
        spikes = tuple(
            SpikeCoefficients(pixel_position=int(c), pixel_threshold=px.spike_amplitude_dn / 2.0,
                              amplitude=px.spike_amplitude_dn, probability=px.spike_probability)
            for c in maps.spike_columns
        )
        emit(DarkGippContent(band_code=code, tdi=tdi, n_pixels=maps.n_pixels, dark_currents=r["dark_currents"],
                             spikes=spikes, hot_pixels=tuple(int(h) for h in maps.hot)), band, tdi)
        r = refs("GIP_RELSEN", band, tdi, {"a1": maps.a1.astype(np.float32), "a2": maps.a2.astype(np.float32),
                                           "knee": maps.knee.astype(np.float32)})
        emit(RelativeSensitivityContent(band_code=code, tdi=tdi, n_pixels=maps.n_pixels, a1=r["a1"], a2=r["a2"],
                                        knee=r["knee"]), band, tdi)
        defects = tuple(
            DefectItem(col_range=ColRange(first=d.column, last=d.column), defect_type=d.defect_type)
            for d in maps.defects
        )
        tdis = tuple(cfg.tdi_settings)
        emit(OutOfOrderContent(band_code=code, tdi_defects=(TdiConfigurationDefect(tdi_code=tdi_code(tdis),
                                                                                  defects=defects),),
                               interpolation_rule="linear-neighbours"), band)
    when = acq.spec.sensing_time
    emit(PhysicalGainContent(bands=tuple(
        BandPhysicalGain(band_code=band_code(b), tdi_gains=tuple(
            TdiPhysicalGain(tdi=t, physical_gain=absolute_gain(cfg, b, t, when)) for t in cfg.tdi_settings))
        for b in p.bands)))
    emit(NoiseModelContent(bands=tuple(
        BandNoiseModel(band_code=band_code(b), tdi_models=tuple(
            TdiNoiseModel(tdi=t, a_coefficient=noise_coefficients(cfg, b, t, when)[0],
                          b_coefficient=noise_coefficients(cfg, b, t, when)[1]) for t in cfg.tdi_settings))
        for b in p.bands)))
    att = cfg.attitude
    emit(SteeringBiasContent(pitch_bias=att.pitch_bias_urad, roll_bias=att.roll_bias_urad,
                             yaw_bias=att.yaw_bias_urad,
                             focal_homothety=att.focal_homothety if att.focal_homothety else None))
    return out
