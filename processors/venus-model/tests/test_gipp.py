"""GIPP content models, VENµS file names, Earth Explorer XML round trips and the host plugin."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from viq_interfaces.errors import GippError
from viq_venus import plugin
from viq_venus.gipp import (
    CONTENT_MODELS,
    BandNoiseModel,
    ColRange,
    DarkGippContent,
    DefectItem,
    GippName,
    NoiseModelContent,
    OutOfOrderContent,
    SpikeCoefficients,
    SteeringBiasContent,
    TdiConfigurationDefect,
    TdiNoiseModel,
    make_header,
    parse_gipp_name,
    read_gipp,
    save_array,
    sidecar_path,
    write_gipp,
)

WHEN = datetime(2018, 6, 1, 10, 30)


def _dark(tmp_path: Path) -> tuple[Path, np.ndarray]:
    values = np.linspace(20, 30, 64).astype(np.float32)
    name = str(GippName("TEST", "GIP_DARKCU", valid_start=WHEN.date(), band="B3", tdis=(8,)))
    ref = save_array(sidecar_path(tmp_path, name, "dark_currents"), values)
    content = DarkGippContent(band_code="B03", tdi=8, n_pixels=64, dark_currents=ref,
                              spikes=(SpikeCoefficients(pixel_position=5, pixel_threshold=30.0, amplitude=60.0,
                                                        probability=0.02),),
                              hot_pixels=(7, 9))
    header = make_header(content, creator="test", creator_version="01.00", creation_date=WHEN,
                         validity_start=WHEN.replace(hour=0, minute=0), band="B3", tdi=8)
    return write_gipp(tmp_path, header, content), values


def test_file_names_follow_the_venus_pattern() -> None:
    """Names are VE_<class>_<type>_<n>_<nick>_<serial>_<start>_<stop>[_<band>_<tdi>] and parse back."""
    name = GippName("TEST", "GIP_DARKCU", valid_start=datetime(2017, 8, 1).date(), band="B3", tdis=(32, 16, 8, 4))
    assert str(name) == "VE_TEST_GIP_DARKCU_L_ALLSITES_00001_20170801_99999999_B03_111100"
    assert parse_gipp_name(str(name) + ".EEF") == replace(name, tdis=(4, 8, 16, 32))
    assert str(GippName("OPER", "GIP_PHGAIN", serial=7)) == "VE_OPER_GIP_PHGAIN_L_ALLSITES_00007_00000000_99999999"
    with pytest.raises(ValueError, match="not a VENµS GIPP"):
        parse_gipp_name("VE_TEST_GIP_DARKCU_L_ALLSITES_00001_20170801_99999999_B13_111100")
    with pytest.raises(ValueError, match="band"):
        GippName("TEST", "GIP_RELSEN")


def test_dark_gipp_round_trip_with_sidecar(tmp_path: Path) -> None:
    """A DARKCU GIPP writes and reads back header, content and the sha256-checked sidecar array."""
    path, values = _dark(tmp_path)
    gf = read_gipp(path)
    assert gf.header.file_type == "GIP_DARKCU" and gf.header.band == "B3" and gf.header.tdis == (8,)
    assert gf.header.validity_start == datetime(2018, 6, 1) and gf.header.validity_stop is None
    assert isinstance(gf.content, DarkGippContent)
    assert gf.content.spikes[0].pixel_position == 5 and gf.content.hot_pixels == (7, 9)
    np.testing.assert_array_equal(gf.array("dark_currents"), values)
    text = path.read_text()
    assert 'xsi:type="DARKCU_File_Type"' in text and "<Mission>VENuS</Mission>" in text


def test_tampered_sidecar_is_refused(tmp_path: Path) -> None:
    """Changing a sidecar byte makes loading the array fail on its sha256."""
    path, _ = _dark(tmp_path)
    side = next(tmp_path.glob("*.npy"))
    data = bytearray(side.read_bytes())
    data[-1] ^= 0xFF
    side.write_bytes(bytes(data))
    with pytest.raises(GippError, match="sha256"):
        read_gipp(path).array("dark_currents")


def test_list_models_round_trip(tmp_path: Path) -> None:
    """NOISMO, OUTORD and SBPARS contents survive write → read unchanged."""
    contents = [
        NoiseModelContent(bands=(BandNoiseModel(band_code="B04", tdi_models=(
            TdiNoiseModel(tdi=8, a_coefficient=2.25, b_coefficient=0.0688),
            TdiNoiseModel(tdi=16, a_coefficient=2.25, b_coefficient=0.1376))),)),
        OutOfOrderContent(band_code="B04", tdi_defects=(TdiConfigurationDefect(tdi_code="111101", defects=(
            DefectItem(col_range=ColRange(first=3, last=3), defect_type="BLIND"),)),)),
        SteeringBiasContent(pitch_bias=-10.0, roll_bias=15.0, yaw_bias=60.0),
    ]
    for content in contents:
        band = "B4" if isinstance(content, OutOfOrderContent) else None
        header = make_header(content, creator="t", creator_version="1", creation_date=WHEN, band=band)
        back = read_gipp(write_gipp(tmp_path, header, content))
        assert back.content == content
        assert back.header.file_name == header.file_name


def test_invalid_content_is_reported_with_the_element(tmp_path: Path) -> None:
    """A negative A coefficient in the Data_Block fails reading with the element path in the message."""
    content = NoiseModelContent(bands=(BandNoiseModel(band_code="B04", tdi_models=(
        TdiNoiseModel(tdi=8, a_coefficient=2.25, b_coefficient=0.07),)),))
    header = make_header(content, creator="t", creator_version="1", creation_date=WHEN)
    path = write_gipp(tmp_path, header, content)
    path.write_text(path.read_text().replace("<A_coefficient>2.25<", "<A_coefficient>-2.25<"))
    with pytest.raises(GippError, match="A_coefficient"):
        read_gipp(path)


def test_plugin_registers_every_content_model() -> None:
    """The viq.plugins hook adds the six content models under their type codes."""
    added: dict[str, object] = {}

    class Registry:
        def add(self, name: str, factory: object) -> None:
            added[name] = factory

    plugin.viq_add_gipp_types(Registry())
    assert set(added) == {"GIP_DARKCU", "GIP_RELSEN", "GIP_PHGAIN", "GIP_NOISMO", "GIP_OUTORD", "IMQ_SBPARS"}
    assert added == CONTENT_MODELS


def _outord(rule: str | None = None) -> OutOfOrderContent:
    defects = (TdiConfigurationDefect(tdi_code="111101", defects=(
        DefectItem(col_range=ColRange(first=3, last=4), defect_type="NOISY"),)),)
    if rule is None:
        return OutOfOrderContent(band_code="B07", tdi_defects=defects)
    return OutOfOrderContent(band_code="B07", tdi_defects=defects, interpolation_rule=rule)  # type: ignore[arg-type]


def _write(tmp_path: Path, content: OutOfOrderContent | SteeringBiasContent) -> Path:
    band = "B7" if isinstance(content, OutOfOrderContent) else None
    return write_gipp(tmp_path, make_header(content, creator="t", creator_version="1", creation_date=WHEN,
                                            band=band), content)


def test_outord_interpolation_rule_round_trips_and_defaults_for_old_files(tmp_path: Path) -> None:
    """Interpolation_Rule is written and read back; a file without it (older writer) reads as linear-neighbours."""
    assert _outord().interpolation_rule == "linear-neighbours"
    path = _write(tmp_path, _outord("none"))
    assert "<Interpolation_Rule>none</Interpolation_Rule>" in path.read_text()
    back = read_gipp(path).content
    assert isinstance(back, OutOfOrderContent) and back.interpolation_rule == "none"
    old = path.read_text().replace("<Interpolation_Rule>none</Interpolation_Rule>", "")
    assert "Interpolation_Rule" not in old
    path.write_text(old)
    back = read_gipp(path).content
    assert isinstance(back, OutOfOrderContent) and back.interpolation_rule == "linear-neighbours"
    assert back.tdi_defects == _outord().tdi_defects


def test_outord_unknown_interpolation_rule_names_the_element(tmp_path: Path) -> None:
    """A rule outside {linear-neighbours, none} fails reading with Interpolation_Rule in the message."""
    path = _write(tmp_path, _outord())
    path.write_text(path.read_text().replace(">linear-neighbours<", ">cubic<"))
    with pytest.raises(GippError, match="Interpolation_Rule"):
        read_gipp(path)


def test_sbpars_homothety_and_uncertainties_are_optional(tmp_path: Path) -> None:
    """SBPARS with homothety and one-sigma values round-trips; without them no element is written (old layout)."""
    full = SteeringBiasContent(pitch_bias=-10.0, roll_bias=15.0, yaw_bias=60.0, focal_homothety=4.5e-5,
                               pitch_bias_sigma=0.4, roll_bias_sigma=0.3, yaw_bias_sigma=2.0,
                               focal_homothety_sigma=1e-6)
    back = read_gipp(_write(tmp_path / "full", full)).content
    assert back == full
    assert isinstance(back, SteeringBiasContent) and back.focal_homothety == 4.5e-5
    bare = SteeringBiasContent(pitch_bias=-10.0, roll_bias=15.0, yaw_bias=60.0)
    text = _write(tmp_path / "bare", bare).read_text()
    assert "Sigma" not in text and "Homothety" not in text
    back = read_gipp(next((tmp_path / "bare").glob("*.EEF"))).content
    assert isinstance(back, SteeringBiasContent)
    assert back.focal_homothety is None and back.yaw_bias_sigma is None and back.yaw_bias == 60.0


def test_sbpars_negative_uncertainty_is_refused(tmp_path: Path) -> None:
    """A negative one-sigma value fails reading, naming Yaw_Bias_Sigma."""
    content = SteeringBiasContent(pitch_bias=0.0, roll_bias=0.0, yaw_bias=1.0, yaw_bias_sigma=0.5)
    path = _write(tmp_path, content)
    path.write_text(path.read_text().replace("<Yaw_Bias_Sigma>0.5<", "<Yaw_Bias_Sigma>-0.5<"))
    with pytest.raises(GippError, match="Yaw_Bias_Sigma"):
        read_gipp(path)
