"""GIPP XSDs (``schemas/gipp/``): simulator truth GIPPs and their store exports validate, a file failing its XSD
is refused with file:line before anything is stored, and an honest comparison with the public VENµS ICD XSDs."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import xmlschema

from viq_host.gipp.models import GippFileError
from viq_host.gipp.store import GippStore, open_gipp_store
from viq_host.gipp.xsd import check_gipp_bytes, gipp_issues, gipp_xsd_types
from viq_host.plugins import load_plugins
from viq_proc_simulator import simulate

ICD_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "venus-icd-schemas" / "Venus"
ICD_SCHEMAS = {
    "GIP_DARKCU": "VE_GIP_DARKCU_DarkCurrents.xsd",
    "GIP_RELSEN": "VE_GIP_RELSEN_RelativeSensitivities.xsd",
    "GIP_PHGAIN": "VE_GIP_PHGAIN_PhysicalGainData.xsd",
    "GIP_NOISMO": "VE_GIP_NOISMO_NoiseModel.xsd",
    "GIP_OUTORD": "VE_GIP_OUTORD_OutOfOrderDetectors.xsd",
    "IMQ_SBPARS": "VE_IMQ_SBPARS_SteeringBiasParameters.xsd",
}
#: Our files differ from the ICD schema only inside the Data_Block (and, for SBPARS, in schema_version): each
#: type's differences, as (XML path fragment, reason fragment) that must all appear among the ICD errors.
ICD_DIFFERENCES = {
    "GIP_DARKCU": [("Data_Block", "'type' attribute"), ("List_of_Dark_Currents", "'sha256' attribute")],
    "GIP_RELSEN": [("Data_Block", "'type' attribute"), ("List_of_Relative_Sensitivities", "'sha256' attribute")],
    "GIP_PHGAIN": [("List_of_Band_Physical_Gains", "greater or equal than 12"), ("TDI_Configuration_Values", "01")],
    "GIP_NOISMO": [("List_of_Band_Noise_Models", "greater or equal than 12"), ("TDI_Configuration_Values", "01")],
    "GIP_OUTORD": [("TDI_Configuration_Code", "must be one of"), ("Data_Block", "Band_Code")],
    "IMQ_SBPARS": [("Earth_Explorer_File", "schema_version"), ("Pitch_Bias", "'unit'")],
}


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The truth GIPP files of one small simulated dark acquisition, by File_Type."""
    run = simulate(tmp_path_factory.mktemp("sim"), acquisition="dark", bands=("B3",), lines=16, pixels=64, seed=3)
    return {g.gipp_type: Path(g.path) for g in run.gipps}


@pytest.fixture
def store(tmp_path: Path) -> GippStore:
    """An empty SQLite GIPP store with the installed content models."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a plugin under development elsewhere must not fail this test
        plugins = load_plugins()
    return open_gipp_store(f"sqlite:///{tmp_path / 'g.sqlite'}", plugins, directory=tmp_path / "gipp")


def test_every_written_type_has_a_schema() -> None:
    """schemas/gipp/ holds an XSD for each GIPP type VIQ writes."""
    assert set(gipp_xsd_types()) >= {*ICD_SCHEMAS, "AUX_REFDE1"}


def test_truth_gipps_and_their_exports_validate(truth: dict[str, Path], store: GippStore, tmp_path: Path) -> None:
    """Each simulator truth GIPP, and the store's export of it, has zero violations of its type's XSD."""
    assert set(truth) >= set(ICD_SCHEMAS)
    for gipp_type, path in truth.items():
        file_type, found = gipp_issues(path.read_bytes(), source=str(path))
        assert (file_type, found) == (gipp_type, []), f"{path.name}: {[i.describe() for i in found]}"
        rec = store.import_file(path, actor="engineer")
        out = store.export(rec.id, tmp_path / "export")
        file_type, found = gipp_issues(out.read_bytes(), source=str(out))
        assert (file_type, found) == (gipp_type, []), f"{out.name}: {[i.describe() for i in found]}"


def test_file_failing_its_xsd_is_refused_with_line(truth: dict[str, Path], store: GippStore, tmp_path: Path) -> None:
    """A DARKCU with a negative detector count fails GIP_DARKCU.xsd: GippFileError names file:line and the XML path
    of the bad element, and the store stays empty."""
    text = truth["GIP_DARKCU"].read_text()
    bad = re.sub(r"<Number_Of_Detectors>\d+<", "<Number_Of_Detectors>-64<", text)
    assert bad != text
    line = next(i for i, t in enumerate(bad.splitlines(), start=1) if "<Number_Of_Detectors>" in t)
    path = tmp_path / truth["GIP_DARKCU"].name
    path.write_text(bad)
    for sidecar in truth["GIP_DARKCU"].parent.glob(f"{path.stem}*.npy"):
        (tmp_path / sidecar.name).write_bytes(sidecar.read_bytes())
    with pytest.raises(GippFileError, match=rf"{re.escape(str(path))}:{line}: .*Data_Block/Number_Of_Detectors"):
        store.import_file(path, actor="engineer")
    assert store.find(gipp_type="GIP_DARKCU") == []
    with pytest.raises(GippFileError, match="GIP_DARKCU.xsd"):
        check_gipp_bytes(bad.encode(), source="x.EEF")


@pytest.mark.skipif(not ICD_DIR.is_dir(), reason="VENµS ICD schemas not in ../shared/reference")
@pytest.mark.parametrize("gipp_type", sorted(ICD_SCHEMAS))
def test_our_files_against_the_public_icd_schema(gipp_type: str, truth: dict[str, Path]) -> None:
    """Honest status: our files do NOT validate against the ICD schema of their type; the header does (no error
    outside the Data_Block except SBPARS' schema_version), and the differences are the ones README.md lists."""
    schema = xmlschema.XMLSchema10(str(ICD_DIR / ICD_SCHEMAS[gipp_type]), allow="local")
    errors = [e for e in schema.iter_errors(str(truth[gipp_type])) if isinstance(e, xmlschema.XMLSchemaValidationError)]
    assert errors, f"{gipp_type} now validates against the ICD schema: update README.md and this test"
    found = [(e.path or "", str(e.reason)) for e in errors]
    outside = [f for f in found if "/Data_Block" not in f[0] and "schema_version" not in f[1]]
    assert outside == [], f"header differences from the ICD: {outside}"
    for where, why in ICD_DIFFERENCES[gipp_type]:
        assert any(where in p and why in r for p, r in found), f"{gipp_type}: no ({where}, {why}) in {found}"
