"""ICD export of stored GIPPs (``viq gipp export ID --icd``): simulator and processor GIPPs, imported into the store,
export to files the public VENµS ICD schemas accept, whose numbers read back equal to the store's; what the ICD
cannot express is refused with nothing written."""

from __future__ import annotations

import hashlib
import math
import sys
import warnings
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pytest
import xmlschema
from lxml import etree

from viq_host.gipp.icd_export import ICD_LAYOUTS, IcdExportRefused, export_icd
from viq_host.gipp.store import GippStore, open_gipp_store
from viq_host.plugins import Plugins, load_plugins
from viq_interfaces.errors import ConfigurationError
from viq_interfaces.exitcodes import ExitCode
from viq_proc_simulator import simulate
from viq_venus.config import InstrumentConfig, PixelDefectConfig
from viq_venus.gipp import SteeringBiasContent, make_header, write_gipp

ICD_ROOT = Path(__file__).resolve().parents[2] / "shared" / "reference" / "venus-icd-schemas"
needs_icd = pytest.mark.skipif(not ICD_ROOT.is_dir(), reason="VENµS ICD schemas not in ../shared/reference")
NS = {"ee": "http://eop-cfi.esa.int/CFI"}
TYPES = ("GIP_DARKCU", "GIP_RELSEN", "GIP_PHGAIN", "GIP_NOISMO", "GIP_OUTORD", "IMQ_SBPARS")


@pytest.fixture(scope="module")
def plugins() -> Plugins:
    """The installed content models (VENµS GIPPs, AUX_REFDE1)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a plugin under development elsewhere must not fail this test
        return load_plugins()


@pytest.fixture(scope="module")
def clean_sim(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str | None], Path]:
    """Truth GIPPs of a full-size dark acquisition (12 bands, 5200 detectors) of an instrument without spiking or
    hot pixels, by (type, band)."""
    config = InstrumentConfig(pixels=PixelDefectConfig(spike_pixel_count=0, hot_pixel_fraction=0.0))
    run = simulate(
        tmp_path_factory.mktemp("sim"),
        config=config,
        acquisition="dark",
        lines=16,
        pixels=5200,
        seed=5,
        products=("raw",),
    )
    return {(g.gipp_type, g.band): Path(g.path) for g in run.gipps}


@pytest.fixture
def store(tmp_path: Path, plugins: Plugins) -> GippStore:
    """An empty SQLite GIPP store."""
    return open_gipp_store(f"sqlite:///{tmp_path / 'g.sqlite'}", plugins, directory=tmp_path / "gipp")


def _icd_errors(path: Path, gipp_type: str) -> list[str]:
    """Violations of the ICD schema of ``gipp_type``, loaded here independently of the exporter."""
    schema = xmlschema.XMLSchema10(str(ICD_ROOT / "Venus" / ICD_LAYOUTS[gipp_type].schema), allow="local")
    return [
        f"{e.path}: {e.reason}"
        for e in schema.iter_errors(str(path))
        if isinstance(e, xmlschema.XMLSchemaValidationError)
    ]


def _texts(root: etree._Element, path: str) -> list[str]:
    return [(e.text or "").strip() for e in root.iterfind(path, NS)]


def _export(store: GippStore, path: Path, out: Path) -> tuple[int, Path, etree._Element]:
    rec = store.import_file(path, actor="engineer")
    written = export_icd(store, rec.id, out, schemas=ICD_ROOT)
    assert _icd_errors(written.path, rec.gipp_type) == []
    return rec.id, written.path, etree.parse(str(written.path)).getroot()


@needs_icd
def test_darkcu_and_relsen_inline_their_arrays(
    clean_sim: dict[tuple[str, str | None], Path], store: GippStore, tmp_path: Path
) -> None:
    """DARKCU and RELSEN of band B07 export under the ICD name (band + TDI-set code), validate against the ICD XSD,
    and their 5200 inline values (sn 1..5200) read back bit-identical to the store's sidecar arrays (a1 a2 Zs
    triplets for RELSEN); Instance_Id carries B07 and TDI '08'."""
    gid, path, root = _export(store, clean_sim[("GIP_DARKCU", "B7")], tmp_path / "icd")
    rec = store.get(gid)
    assert path.name == f"{rec.file_name}.EEF" and path.name.endswith("_B07_001000.EEF")
    content = store.content_data(gid)
    assert isinstance(content, dict)
    stored = store.array(gid, f"sidecar:{content['List_of_Dark_Currents']['file']}")
    dark = np.array(_texts(root, "ee:Data_Block/ee:List_of_Dark_Currents/ee:Dark_Current"), dtype=stored.dtype)
    assert dark.size == 5200 and np.array_equal(dark, stored)
    sns = [int(e.get("sn")) for e in root.iterfind("ee:Data_Block/ee:List_of_Dark_Currents/ee:Dark_Current", NS)]
    assert sns == list(range(1, 5201))
    inst = "ee:Earth_Explorer_Header/ee:Variable_Header/ee:Specific_Product_Header/ee:Instance_Id"
    assert _texts(root, f"{inst}/ee:Band_Code") == ["B07"] and _texts(root, f"{inst}/ee:TDI_Configuration_Values") == [
        "08"
    ]
    assert root.find("ee:Data_Block", NS).get("type") is None

    gid, path, root = _export(store, clean_sim[("GIP_RELSEN", "B7")], tmp_path / "icd")
    content = store.content_data(gid)
    assert isinstance(content, dict)
    columns = [
        store.array(gid, f"sidecar:{content[key]['file']}")
        for key in ("List_of_Relative_Sensitivities", "List_of_Second_Slopes", "List_of_Knee_Values")
    ]
    triplets = [
        t.split() for t in _texts(root, "ee:Data_Block/ee:List_of_Relative_Sensitivities/ee:Relative_Sensitivity")
    ]
    assert len(triplets) == 5200 and all(len(t) == 3 for t in triplets)
    for k, stored in enumerate(columns):
        assert np.array_equal(np.array([t[k] for t in triplets], dtype=stored.dtype), stored)


@needs_icd
@pytest.mark.parametrize("gipp_type", ["GIP_PHGAIN", "GIP_NOISMO"])
def test_band_tables_hold_all_twelve_bands(
    gipp_type: str, clean_sim: dict[tuple[str, str | None], Path], store: GippStore, tmp_path: Path
) -> None:
    """PHGAIN / NOISMO with the 12 bands export in band order B01..B12, TDI values spelled with two digits, and every
    gain or (A, B) coefficient reads back equal to the store's value for that band and TDI."""
    gid, _, root = _export(store, clean_sim[(gipp_type, None)], tmp_path / "icd")
    content = store.content_data(gid)
    assert isinstance(content, dict)
    if gipp_type == "GIP_PHGAIN":
        lists, tdis, fields = "List_of_Band_Physical_Gains", "List_of_TDI_Physical_Gains", ("Physical_Gain",)
    else:
        lists, tdis, fields = (
            "List_of_Band_Noise_Models",
            "List_of_TDI_Noise_Models",
            ("A_coefficient", "B_coefficient"),
        )
    expected = {
        (b["Band_Code"], f"{t['TDI_Configuration_Values']:02d}"): tuple(t[f] for f in fields)
        for b in content[lists]
        for t in b[tdis]
    }
    got: dict[tuple[str, str], tuple[float, ...]] = {}
    codes = []
    for band in root.find(f"ee:Data_Block/ee:{lists}", NS):
        code = band.findtext("ee:Band_Code", namespaces=NS)
        codes.append(code)
        for t in band.find(f"ee:{tdis}", NS):
            key = (code, t.findtext("ee:TDI_Configuration_Values", namespaces=NS))
            got[key] = tuple(float(t.findtext(f"ee:{f}", namespaces=NS)) for f in fields)
    assert codes == [f"B{i:02d}" for i in range(1, 13)]
    assert got == expected and len(got) == 12 * 5


@needs_icd
def test_outord_one_entry_per_tdi_one_based(
    clean_sim: dict[tuple[str, str | None], Path], store: GippStore, tmp_path: Path
) -> None:
    """The OUTORD of B02 (one TDI-set entry 111101) exports as one ICD entry per TDI value (01 04 08 16 32), each with
    the store's defects shifted to 1-based columns; the interpolation rule goes to the .VIQ.json note."""
    rec = store.import_file(clean_sim[("GIP_OUTORD", "B2")], actor="engineer")
    written = export_icd(store, rec.id, tmp_path / "icd", schemas=ICD_ROOT)
    assert _icd_errors(written.path, "GIP_OUTORD") == []
    content = store.content_data(rec.id)
    assert isinstance(content, dict)
    (entry,) = content["List_of_TDI_Configuration_Defects"]
    stored = [(d["Col_Range"]["First"], d["Col_Range"]["Last"], d["Defect_Type"]) for d in entry["List_of_Defects"]]
    assert stored
    root = etree.parse(str(written.path)).getroot()
    per_tdi = {}
    for item in root.find("ee:Data_Block/ee:List_of_TDI_Configuration_Defects", NS):
        defects = [
            (
                int(d.findtext("ee:Col_Range/ee:First", namespaces=NS)) - 1,
                int(d.findtext("ee:Col_Range/ee:Last", namespaces=NS)) - 1,
                d.findtext("ee:Defect_Type", namespaces=NS),
            )
            for d in item.find("ee:List_of_Defects", NS)
        ]
        per_tdi[item.findtext("ee:TDI_Configuration_Code", namespaces=NS)] = defects
    assert per_tdi == {t: stored for t in ("01", "04", "08", "16", "32")}
    assert written.notes is not None and '"Interpolation_Rule": "linear-neighbours"' in written.notes.read_text()


def _sbpars(folder: Path, **values: float | None) -> Path:
    """An IMQ_SBPARS written the way viewing-bias writes its candidate."""
    content = SteeringBiasContent.model_validate(values)
    when = datetime(2019, 3, 4, 10, 0, 0)
    header = make_header(
        content,
        creator="viewing-bias",
        creator_version="1.0",
        creation_date=when,
        file_class="TEST",
        validity_start=when,
        notes="candidate",
    )
    return write_gipp(folder, header, content)


@needs_icd
def test_sbpars_in_degrees_and_uncertainties_aside(store: GippStore, tmp_path: Path) -> None:
    """An SBPARS in µrad exports under its emission-date name with the biases in degrees (unit="deg") that convert
    back to the stored µrad; the one-sigma uncertainties, which the ICD has no place for, go to the .VIQ.json note."""
    path = _sbpars(
        tmp_path / "in",
        pitch_bias=-12.5,
        roll_bias=7.25,
        yaw_bias=61.0,
        pitch_bias_sigma=0.4,
        roll_bias_sigma=0.3,
        yaw_bias_sigma=2.0,
    )
    rec = store.import_file(path, actor="engineer")
    written = export_icd(store, rec.id, tmp_path / "icd", schemas=ICD_ROOT)
    assert written.path.name == "VE_TEST_IMQ_SBPARS_20190304T100000.EEF"
    assert _icd_errors(written.path, "IMQ_SBPARS") == []
    root = etree.parse(str(written.path)).getroot()
    for key, urad in (("Pitch_Bias", -12.5), ("Roll_Bias", 7.25), ("Yaw_Bias", 61.0)):
        el = root.find(f"ee:Data_Block/ee:{key}", NS)
        assert el.get("unit") == "deg"
        assert math.radians(float(el.text)) * 1e6 == pytest.approx(urad, rel=1e-12)
    assert written.notes is not None
    note = written.notes.read_text()
    assert '"Yaw_Bias_Sigma": 2.0' in note and '"Unit": "urad"' in note


@needs_icd
def test_export_is_deterministic_and_written_once(
    clean_sim: dict[tuple[str, str | None], Path], store: GippStore, tmp_path: Path
) -> None:
    """Exporting the same GIPP twice gives the same bytes, in two directories and in place (file not rewritten)."""
    rec = store.import_file(clean_sim[("GIP_NOISMO", None)], actor="engineer")
    a = export_icd(store, rec.id, tmp_path / "a", schemas=ICD_ROOT).path
    b = export_icd(store, rec.id, tmp_path / "b", schemas=ICD_ROOT).path
    assert a.read_bytes() == b.read_bytes()
    before = a.stat().st_mtime_ns
    assert export_icd(store, rec.id, tmp_path / "a", schemas=ICD_ROOT).path.stat().st_mtime_ns == before


# ------------------------------------------------------------------------------------------------ refusals


@pytest.fixture(scope="module")
def small_sim(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Truth GIPPs of a small default dark acquisition: band B3 only, 64 detectors, spikes and hot pixels."""
    run = simulate(
        tmp_path_factory.mktemp("small"),
        acquisition="dark",
        bands=("B3",),
        lines=16,
        pixels=64,
        seed=3,
        products=("raw",),
    )
    return {g.gipp_type: Path(g.path) for g in run.gipps}


def _refused(store: GippStore, path: Path, out: Path, *patterns: str) -> None:
    rec = store.import_file(path, actor="engineer")
    with pytest.raises(IcdExportRefused) as err:
        export_icd(store, rec.id, out, schemas=ICD_ROOT)
    for pattern in (f"GIPP #{rec.id}", *patterns):
        assert pattern in str(err.value)
    assert not out.exists() or list(out.iterdir()) == []


@needs_icd
def test_missing_bands_detectors_spikes_are_refused(
    small_sim: dict[str, Path], store: GippStore, tmp_path: Path
) -> None:
    """A one-band PHGAIN / NOISMO names the 11 missing bands; 64-detector DARKCU and RELSEN are refused for their
    detector count. Nothing is written."""
    missing = "missing B01, B02, B04, B05, B06, B07, B08, B09, B10, B11, B12"
    _refused(store, small_sim["GIP_PHGAIN"], tmp_path / "o1", "B03", missing, "requires all 12")
    _refused(store, small_sim["GIP_NOISMO"], tmp_path / "o2", missing)
    _refused(store, small_sim["GIP_DARKCU"], tmp_path / "o3", "holds 64 detectors")
    _refused(store, small_sim["GIP_RELSEN"], tmp_path / "o4", "holds 64 detectors", "exactly 5200")


@needs_icd
def test_focal_homothety_spikes_and_hot_pixels_are_refused(store: GippStore, tmp_path: Path) -> None:
    """An SBPARS with a focal homothety, and a full-size DARKCU of the default instrument (spiking and hot pixels),
    are refused naming everything the ICD cannot hold (both DARKCU reasons in one message)."""
    _refused(
        store,
        _sbpars(tmp_path / "in", pitch_bias=1.0, roll_bias=2.0, yaw_bias=3.0, focal_homothety=5e-5),
        tmp_path / "o1",
        "Focal_Homothety",
    )
    run = simulate(
        tmp_path / "sim", acquisition="dark", bands=("B5",), lines=16, pixels=5200, seed=2, products=("raw",)
    )
    dark = next(Path(g.path) for g in run.gipps if g.gipp_type == "GIP_DARKCU")
    _refused(store, dark, tmp_path / "o2", "hot pixel(s)", "spiking detector(s)", "Spike_Coefficients")


def test_missing_icd_schemas_is_a_configuration_error(
    small_sim: dict[str, Path], store: GippStore, tmp_path: Path
) -> None:
    """Without the ICD schemas nothing can be validated: ConfigurationError naming the directory, nothing written."""
    rec = store.import_file(small_sim["GIP_OUTORD"], actor="engineer")
    with pytest.raises(ConfigurationError, match="nowhere"):
        export_icd(store, rec.id, tmp_path / "out", schemas=tmp_path / "nowhere")
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------------ AUX_REFDE1


def _refde1(folder: Path, crs: str, sampling: float, version: int = 3) -> Path:
    """An AUX_REFDE1 header written by reference-dem's header writer, with two small data-block files."""
    from viq_proc_dem import refde1

    name = f"VE_TEST_AUX_REFDE1_E00521N4437_E00538N4421_{version:04d}"
    dbl = folder / f"{name}.DBL.DIR"
    dbl.mkdir(parents=True)
    files = []
    for i, (suffix, what) in enumerate((("DEM", "heights (m)"), ("MSK", "fill code")), start=1):
        path = dbl / f"{name}_{suffix}.TIF"
        path.write_bytes(f"data block {suffix}".encode())
        files.append(
            {
                "@sn": i,
                "@sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
                "Relative_File_Path": f"{dbl.name}/{path.name}",
                "File_Format": "COG",
                "File_Definition": what,
            }
        )
    content = refde1.RefDe1Content.model_validate(
        {
            "Instance_Id": {
                "Upper_Left_Point": {"Long": 5.21, "Lat": 44.37},
                "Lower_Right_Point": {"Long": 5.38, "Lat": 44.21},
                "File_Version": f"{version:04d}",
            },
            "DEM_Information": {
                "Coordinate_Reference_System": {"Code": crs, "Short_Description": "test grid"},
                "Sampling_Interval": {"By_Line": sampling, "By_Column": sampling},
                "Size": {"Lines": 180, "Columns": 190},
                "Comment": "SRTM; heights above EGM96",
            },
            "DBL_Organization": {"List_of_Packaged_DBL_Files": {"@count": len(files), "Packaged_DBL_File": files}},
            "VIQ_Information": {
                "Site": "Ventoux",
                "Sources": "N44E005",
                "Source_Vertical_Datum": "EGM96",
                "Vertical_Datum": "EGM96",
                "Resampling": "bilinear",
                "Void_Fraction": 0.0,
                "Filled_Fraction": 0.0,
            },
        }
    )
    header = folder / f"{name}.HDR"
    header.write_text(
        refde1.header_xml(
            name=name,
            file_class="TEST",
            file_version=version,
            site="Ventoux",
            created=datetime(2024, 1, 2, 3, 4, 5),
            creator_version="1.0",
            validity=(date(2024, 1, 1), None),
            content=content,
            notes="test DEM",
            input_products=["N44E005"],
        )
    )
    return header


@needs_icd
def test_refde1_geographic_header_and_data_block(store: GippStore, tmp_path: Path) -> None:
    """A geographic (EPSG:4326) reference DEM exports as an ICD .HDR (corners, sampling in degrees, site list) with
    its data-block files copied into the ICD-named .DBL.DIR byte for byte; checksums and VIQ_Information go to the
    note. A UTM grid (sampling in metres) is refused."""
    rec = store.import_file(_refde1(tmp_path / "geo", "EPSG:4326", 0.000833), actor="engineer")
    written = export_icd(store, rec.id, tmp_path / "icd", schemas=ICD_ROOT)
    assert written.path.name == "VE_TEST_AUX_REFDE1_E00521N4437_E00538N4421_0003.HDR"
    assert _icd_errors(written.path, "AUX_REFDE1") == []
    root = etree.parse(str(written.path)).getroot()
    spec = "ee:Variable_Header/ee:Specific_Product_Header"
    assert _texts(root, f"{spec}/ee:Instance_Id/ee:Upper_Left_Point/ee:Long") == ["5.21"]
    assert float(root.findtext(f"{spec}/ee:DEM_Information/ee:Sampling_Interval/ee:By_Line", namespaces=NS)) == 0.000833
    assert _texts(root, f"{spec}/ee:List_of_Applicable_SiteDefinition_Ids/ee:Applicable_SiteDefinition_Id") == [
        "VE_OPER_MPL_SITDEF_S_VENTOUX_"
    ]
    sources = sorted((tmp_path / "geo").glob("*.DBL.DIR/*"))
    assert [p.read_bytes() for p in sorted(written.data_files)] == [p.read_bytes() for p in sources]
    assert all(p.parent.name == f"{written.path.stem}.DBL.DIR" for p in written.data_files)
    assert written.notes is not None and '"Site": "Ventoux"' in written.notes.read_text()

    rec = store.import_file(_refde1(tmp_path / "utm", "EPSG:32631", 30.0, version=4), actor="engineer")
    with pytest.raises(IcdExportRefused, match="EPSG:32631"):
        export_icd(store, rec.id, tmp_path / "icd2", schemas=ICD_ROOT)
    assert not (tmp_path / "icd2").exists()


# ------------------------------------------------------------------------------------------------ CLI


@needs_icd
def test_cli_export_icd_and_refusal_exit_code(
    small_sim: dict[str, Path],
    plugins: Plugins,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``viq gipp export ID --icd --out DIR`` prints the written file (exit 0); a refused export prints one
    'viq: error:' line naming the GIPP and exits with the GIPP error code (135)."""
    from viq_host.cli import gipp as gipp_cli
    from viq_host.cli._common import run_app

    monkeypatch.setenv("VIQ_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("VIQ_DATABASE_URL", raising=False)
    monkeypatch.setenv("VIQ_ICD_SCHEMAS", str(ICD_ROOT))
    monkeypatch.setattr(gipp_cli, "plugins_factory", lambda: plugins)
    for args in (["import", str(small_sim["GIP_OUTORD"])], ["import", str(small_sim["GIP_PHGAIN"])]):
        monkeypatch.setattr(sys, "argv", ["viq", *args])
        assert run_app(gipp_cli.app) == 0
    capsys.readouterr()
    monkeypatch.setattr(sys, "argv", ["viq", "export", "1", "--icd", "--out", str(tmp_path / "out")])
    assert run_app(gipp_cli.app) == 0
    printed = capsys.readouterr().out
    assert "VE_TEST_GIP_OUTORD_L_ALLSITES_00001_20180601_20180601_B03.EEF" in printed
    assert (
        _icd_errors(tmp_path / "out" / "VE_TEST_GIP_OUTORD_L_ALLSITES_00001_20180601_20180601_B03.EEF", "GIP_OUTORD")
        == []
    )
    monkeypatch.setattr(sys, "argv", ["viq", "export", "2", "--icd", "--out", str(tmp_path / "out2")])
    assert run_app(gipp_cli.app) == ExitCode.GIPP_ERROR
    assert "viq: error: GIPP #2" in capsys.readouterr().err
    assert not (tmp_path / "out2").exists()


def test_exporter_covers_the_icd_types() -> None:
    """The exporter covers exactly the seven ICD types the store writes with a VIQ schema."""
    assert set(ICD_LAYOUTS) == {*TYPES, "AUX_REFDE1"}


@needs_icd
def test_radiometry_processor_candidates(
    clean_sim: dict[tuple[str, str | None], Path], store: GippStore, tmp_path: Path
) -> None:
    """Candidates written by the radiometry processors' own writers export too: a DARKCU without spikes or hot
    pixels (dark of the simulated truth) reads back equal to it; an OUTORD for TDI set {8, 16} becomes two ICD
    entries '08' and '16' with the detectors 1-based."""
    from viq_proc_radiometry.gipps import Stamp, write_dark, write_outord

    truth = store.import_file(clean_sim[("GIP_DARKCU", "B4")], actor="engineer")
    content = store.content_data(truth.id)
    assert isinstance(content, dict)
    dark = store.array(truth.id, f"sidecar:{content['List_of_Dark_Currents']['file']}").astype(np.float64)
    stamp = Stamp(
        creator="dark-signal", file_class="TEST", serial=7, validity_start=datetime(2020, 5, 1), validity_stop=None
    )
    (tmp_path / "cand").mkdir()  # a processor's output directory exists before it writes
    path = write_dark(tmp_path / "cand", stamp, "B4", 8, dark, hot=[], spikes=[])
    gid, _, root = _export(store, path, tmp_path / "icd")
    values = np.array(_texts(root, "ee:Data_Block/ee:List_of_Dark_Currents/ee:Dark_Current"), dtype=np.float32)
    assert np.array_equal(values, dark.astype(np.float32))
    assert store.get(gid).serial == 7

    path = write_outord(tmp_path / "cand", stamp, "B4", (8, 16), {12: "BLIND", 4000: "NOISY"})
    _, _, root = _export(store, path, tmp_path / "icd")
    got = {
        e.findtext("ee:TDI_Configuration_Code", namespaces=NS): [
            (d.findtext("ee:Col_Range/ee:First", namespaces=NS), d.findtext("ee:Defect_Type", namespaces=NS))
            for d in e.find("ee:List_of_Defects", NS)
        ]
        for e in root.find("ee:Data_Block/ee:List_of_TDI_Configuration_Defects", NS)
    }
    assert got == {"08": [("13", "BLIND"), ("4001", "NOISY")], "16": [("13", "BLIND"), ("4001", "NOISY")]}
