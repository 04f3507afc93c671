"""Report writers: figures (matplotlib, Agg) and the AUX_REFDE1-style XML header."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any
from xml.etree import ElementTree as ET

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
from numpy.typing import NDArray

if TYPE_CHECKING:
    from viq_proc_dem.reference_dem import ReferenceDem, ReferenceDemParameters


def _sub(v: NDArray[Any], n: int = 1500) -> NDArray[Any]:
    step = max(1, int(np.ceil(max(v.shape) / n)))
    return v[::step, ::step]


def reference_dem_plot(
    heights: NDArray[np.float32], code: NDArray[np.uint8], slope: NDArray[np.float32] | None,
    rep: dict[str, Any], path: Path,
) -> None:
    """Heights, fill mask and height histogram of a reference DEM."""
    fig, axes = plt.subplots(1, 3, figsize=(15, 5))
    h = _sub(heights)
    im = axes[0].imshow(h, cmap="terrain")
    fig.colorbar(im, ax=axes[0], label="height (m)")
    axes[0].set_title(f"{rep['site']}: heights ({rep['vertical_datum']})")
    axes[1].imshow(_sub(code), cmap="viridis", vmin=0, vmax=2, interpolation="nearest")
    axes[1].set_title(f"filled cells: {rep['output_filled_fraction']:.2%} (1 secondary, 2 interpolated)")
    fin = heights[np.isfinite(heights)]
    axes[2].hist(fin[:: max(1, fin.size // 2_000_000)], bins=100, color="0.4")
    axes[2].set_xlabel("height (m)")
    title = f"voids in sources: {rep['source_voids']['cells']} cells, {rep['source_voids']['regions']} regions"
    if slope is not None and "slope_deg" in rep:
        title += f"; mean slope {rep['slope_deg']['mean']:.1f}°"
    axes[2].set_title(title)
    for ax in axes[:2]:
        ax.set_xticks([])
        ax.set_yticks([])
    fig.tight_layout()
    fig.savefig(path, dpi=80)
    plt.close(fig)


def compare_plots(
    difference: NDArray[np.float64], classes: Sequence[tuple[str, dict[str, float]]], nmad_value: float,
    map_path: Path, hist_path: Path, slope_path: Path,
) -> None:
    """Difference map, histogram and by-slope-class bars of a DEM comparison."""
    lim = 3 * nmad_value if np.isfinite(nmad_value) and nmad_value > 0 else 1.0
    fig, ax = plt.subplots(figsize=(7, 6))
    im = ax.imshow(_sub(difference), cmap="RdBu", vmin=-lim, vmax=lim)
    fig.colorbar(im, ax=ax, label="reference − DEM after coregistration (m)")
    ax.set_title("elevation difference")
    fig.savefig(map_path, dpi=80)
    plt.close(fig)
    fin = difference[np.isfinite(difference)]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.hist(fin, bins=200, range=(-5 * lim, 5 * lim), color="0.4")
    ax.set_xlabel("elevation difference (m)")
    ax.set_ylabel("cells")
    fig.savefig(hist_path, dpi=80)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(7, 4))
    labels = [c[0] for c in classes]
    x = np.arange(len(labels))
    ax.bar(x - 0.2, [c[1]["nmad"] for c in classes], 0.4, label="NMAD")
    ax.bar(x + 0.2, [c[1]["rmse"] for c in classes], 0.4, label="RMSE")
    ax.set_xticks(x, labels)
    ax.set_xlabel("slope class")
    ax.set_ylabel("m")
    ax.legend()
    fig.savefig(slope_path, dpi=80)
    plt.close(fig)


def write_class_csv(path: Path, classes: Sequence[tuple[str, dict[str, float]]]) -> None:
    """One row per slope class with every statistic."""
    keys = list(classes[0][1].keys()) if classes else []
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["class", *keys])
        for label, st in classes:
            w.writerow([label, *(f"{st[k]:.6g}" for k in keys)])


def _el(parent: ET.Element, tag: str, text: str | None = None, **attrib: str) -> ET.Element:
    e = ET.SubElement(parent, tag, attrib)
    if text is not None:
        e.text = text
    return e


def refde1_header(
    name: str, dem: ReferenceDem, p: ReferenceDemParameters, rep: dict[str, Any], created: str
) -> str:
    """An Earth Explorer header shaped after the VENµS AUX_REFDE1 schema, with VIQ's additions.

    Fixed_Header and the DEM_Information block follow the schema's element names; the VIQ block (sources,
    datums, fill statistics) is our addition. The file is not validated against the XSD here.
    """
    root = ET.Element("Earth_Explorer_Header", {"schema_version": "1.00"})
    fh = _el(root, "Fixed_Header")
    _el(fh, "File_Name", name)
    _el(fh, "File_Description", "Reference DEM for L1 processing")
    _el(fh, "Notes", "Produced by VIQ reference-dem")
    _el(fh, "Mission", "VENuS")
    _el(fh, "File_Class", p.file_class)
    _el(fh, "File_Type", "AUX_REFDE1")
    vp = _el(fh, "Validity_Period")
    _el(vp, "Validity_Start", "UTC=0000-00-00T00:00:00")
    _el(vp, "Validity_Stop", "UTC=9999-99-99T99:99:99")
    _el(fh, "File_Version", f"{p.file_version:04d}")
    src = _el(fh, "Source")
    _el(src, "System", "VIQ")
    _el(src, "Creator", "reference-dem")
    _el(src, "Creator_Version", dem_version())
    _el(src, "Creation_Date", f"UTC={created}")
    vh = _el(root, "Variable_Header")
    sph = _el(vh, "Specific_Product_Header")
    w, s, e, n = dem.site.bounds
    ul = _el(sph, "Upper_Left_Point")
    _el(ul, "Long", f"{w:.6f}")
    _el(ul, "Lat", f"{n:.6f}")
    lr = _el(sph, "Lower_Right_Point")
    _el(lr, "Long", f"{e:.6f}")
    _el(lr, "Lat", f"{s:.6f}")
    sites_el = _el(sph, "List_of_Applicable_SiteDefinition_Ids", count="1")
    _el(sites_el, "Applicable_SiteDefinition_Id", dem.site.name, sn="1")
    info = _el(sph, "DEM_Information")
    crs = _el(info, "Coordinate_Reference_System")
    epsg = dem.crs.to_epsg()
    _el(crs, "Code", f"EPSG:{epsg}" if epsg else dem.crs.to_wkt())
    _el(crs, "Short_Description", dem.crs.to_string()[:80])
    si = _el(info, "Sampling_Interval")
    _el(si, "By_Line", f"{abs(dem.grid.transform.e):.6f}")
    _el(si, "By_Column", f"{abs(dem.grid.transform.a):.6f}")
    size = _el(info, "Size")
    _el(size, "Lines", str(dem.grid.height))
    _el(size, "Columns", str(dem.grid.width))
    _el(info, "Comment", f"heights above {rep['vertical_datum']}, float32 m, {p.resampling} resampling")
    org = _el(sph, "DBL_Organization")
    _el(org, "File", f"{name}.DBL.DIR/{name}_ALT.TIF", format="COG", definition="heights")
    _el(org, "File", f"{name}.DBL.DIR/{name}_MSK.TIF", format="COG", definition="fill code")
    viq = _el(sph, "VIQ_Information")
    _el(viq, "Sources", ",".join(dem.tiles))
    _el(viq, "Secondary_Sources", ",".join(dem.secondary_tiles))
    _el(viq, "Source_Vertical_Datum", str(dem.source_datum))
    _el(viq, "Vertical_Datum", str(rep["vertical_datum"]))
    _el(viq, "Geoid", str(dem.geoid_name))
    _el(viq, "Void_Fraction", f"{rep['source_voids']['fraction']:.6f}")
    _el(viq, "Filled_Fraction", f"{rep['output_filled_fraction']:.6f}")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def dem_version() -> str:
    """The processor version."""
    from viq_proc_dem import __version__

    return __version__
