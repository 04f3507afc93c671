"""EE XML layer: file names, hardened parsing with file:line errors, deterministic writing, ICD schema fit."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from lxml import etree

from viq_host.gipp import GippFileError, GippName
from viq_host.gipp.eexml import block_to_dict, dict_to_block, read_gipp, read_gipp_bytes, write_gipp

ICD = Path(__file__).resolve().parents[3].parent / "shared" / "reference" / "venus-icd-schemas"

MINIMAL = """<?xml version='1.0' encoding='UTF-8'?>
<Earth_Explorer_File xmlns="http://eop-cfi.esa.int/CFI">
  <Earth_Explorer_Header>
    <Fixed_Header>
      <File_Name>VE_TEST_GIP_SENGEO_L_ALLSITES_00003_20200101_99999999</File_Name>
      <File_Description>SensorGeometricalModel</File_Description>
      <Notes>hand written</Notes>
      <Mission>VENuS</Mission>
      <File_Class>TEST</File_Class>
      <File_Type>GIP_SENGEO</File_Type>
      <Validity_Period>
        <Validity_Start>UTC=2020-01-01T00:00:00</Validity_Start>
        <Validity_Stop>UTC=9999-99-99T99:99:99</Validity_Stop>
      </Validity_Period>
      <File_Version>0001</File_Version>
      <Source>
        <System>VIQ</System>
        <Creator>hand</Creator>
        <Creator_Version>1</Creator_Version>
        <Creation_Date>UTC=2020-01-02T03:04:05</Creation_Date>
      </Source>
    </Fixed_Header>
  </Earth_Explorer_Header>
  <Data_Block>
    <Rotation><Roll unit="rad">0.001</Roll><Pitch unit="rad">-0.002</Pitch></Rotation>
  </Data_Block>
</Earth_Explorer_File>
"""


def test_file_name_round_trip_and_parts() -> None:
    """A GIPP file name splits into class, type, applicability, serial, validity, band and TDI set and back."""
    name = "VE_TEST_GIP_DARKCU_L_ALLSITES_00001_20170801_99999999_B03_111100"
    parts = GippName.parse(name + ".EEF")
    assert (parts.file_class, parts.gipp_type, parts.kind, parts.nick) == ("TEST", "GIP_DARKCU", "L", "ALLSITES")
    assert (parts.serial, parts.start, parts.stop, parts.band, parts.tdi_set) == (
        1,
        "20170801",
        "99999999",
        "B03",
        "111100",
    )
    assert str(parts) == name
    site = GippName.parse("VE_OPER_GIP_PHGAIN_S_PERU_____00012_00000000_20221231")
    assert site.nick == "PERU" and str(site).endswith("_S_PERU_____00012_00000000_20221231")


@pytest.mark.parametrize(
    "bad",
    [
        "VE_TEST_GIP_DARKCU_L_ALLSITES_00001_20170801_99999999_B13_111100",  # band 13 does not exist
        "VE_TEST_GIP_DARKCU_L_ALLSITES_00001_20170801_99999999_B03_111110",  # the 02 flag must be 0
        "VE_TEST_GIP_DARKCU_L_ALLSITES_1_20170801_99999999",  # serial is 5 digits
        "VE_TEST_GIP_DARKCU_L_ALLSITES_00001_20171301_99999999",  # month 13
    ],
)
def test_bad_file_names_are_refused(bad: str) -> None:
    """File names outside the VENµS GIPP pattern raise ValueError naming the pattern or the bad part."""
    with pytest.raises(ValueError, match="B01..B12|TDI set|does not follow|not a date"):
        GippName.parse(bad)


def test_read_then_write_is_stable() -> None:
    """A hand-written file reads into header fields; writing, reading and writing again gives the same bytes."""
    doc = read_gipp_bytes(MINIMAL.encode(), source="hand.EEF")
    assert doc.file_type == "GIP_SENGEO" and doc.name.serial == 3
    assert doc.validity.start == datetime(2020, 1, 1, tzinfo=UTC) and doc.validity.stop is None
    assert doc.creation_date == datetime(2020, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert block_to_dict(doc.data_block) == {
        "Rotation": {"Roll": {"@unit": "rad", "#text": "0.001"}, "Pitch": {"@unit": "rad", "#text": "-0.002"}}
    }
    first = write_gipp(doc)
    second = write_gipp(read_gipp_bytes(first))
    assert first == second
    assert b'<Roll unit="rad">0.001</Roll>' in first


def test_malformed_xml_names_file_and_line(tmp_path: Path) -> None:
    """Broken XML raises GippFileError whose message starts with file:line of the fault."""
    path = tmp_path / "VE_TEST_GIP_SENGEO_L_ALLSITES_00003_20200101_99999999.EEF"
    broken = MINIMAL.replace("</Notes>", "</Note>")
    path.write_text(broken)
    line = next(i for i, text in enumerate(broken.splitlines(), start=1) if "</Note>" in text)
    with pytest.raises(GippFileError) as info:
        read_gipp(path)
    assert info.value.line == line
    assert str(info.value).startswith(f"{path}:{line}: malformed XML")


def test_missing_header_element_names_its_line() -> None:
    """A Fixed_Header without Mission is refused with the line of the Fixed_Header."""
    text = MINIMAL.replace("      <Mission>VENuS</Mission>\n", "")
    with pytest.raises(GippFileError, match=r"f.EEF:4: Fixed_Header: children") as info:
        read_gipp_bytes(text.encode(), source="f.EEF")
    assert info.value.line == 4


def test_entities_and_doctype_are_refused() -> None:
    """A DOCTYPE with entity declarations is refused and the entity is never expanded."""
    evil = MINIMAL.replace(
        "<?xml version='1.0' encoding='UTF-8'?>",
        "<?xml version='1.0' encoding='UTF-8'?>\n<!DOCTYPE x [<!ENTITY e SYSTEM \"file:///etc/passwd\">]>",
    ).replace("hand written", "&e;")
    with pytest.raises(GippFileError, match="DOCTYPE"):
        read_gipp_bytes(evil.encode(), source="evil.EEF")


def test_header_must_agree_with_file_name() -> None:
    """File_Name validity must match Validity_Period; the mismatch is reported on the File_Name line."""
    text = MINIMAL.replace("UTC=2020-01-01T00:00:00", "UTC=2021-01-01T00:00:00")
    with pytest.raises(GippFileError, match=r"x.EEF:5: File_Name validity 20200101_99999999 disagrees"):
        read_gipp_bytes(text.encode(), source="x.EEF")


def test_dict_mapping_keeps_lists_for_single_items() -> None:
    """Children of List_of_* (or with sn) stay lists even with one item, so models see a stable shape."""
    data = {"List_of_X": {"@count": "1", "X": [{"@sn": "1", "V": "2.5"}]}}
    block = dict_to_block(data)
    assert block_to_dict(block) == data
    assert etree.QName(block[0][0]).localname == "X"


def test_export_of_phgain_validates_against_icd_schema(tmp_path: Path) -> None:
    """A PHGAIN written by the store validates against the public VENµS ICD schema (VE_GIP_PHGAIN v0.40)."""
    import xmlschema

    xsd = ICD / "Venus" / "VE_GIP_PHGAIN_PhysicalGainData.xsd"
    if not xsd.is_file():
        pytest.skip("ICD schemas not present in ../shared/reference")
    from viq_host.gipp import GippDraft, open_gipp_store
    from viq_host.plugins import load_plugins

    from .models_for_tests import TestGippTypes

    bands = [
        {
            "@sn": i,
            "Band_Code": f"B{i:02d}",
            "List_of_TDI_Physical_Gains": {
                "@count": 1,
                "TDI_Physical_Gain": [{"@sn": 1, "TDI_Configuration_Values": "08", "Physical_Gain": 1.0 + i / 100}],
            },
        }
        for i in range(1, 13)
    ]
    content = {"List_of_Band_Physical_Gains": {"@count": 12, "Band_Physical_Gain": bands}}
    plugins = load_plugins(extra=[TestGippTypes()], entry_points_enabled=False)
    with open_gipp_store(f"sqlite:///{tmp_path / 'db.sqlite'}", plugins, directory=tmp_path / "g") as store:
        rec = store.add(GippDraft(gipp_type="GIP_PHGAIN", description="PhysicalGainData", content=content), actor="t")
        out = store.export(rec.id, tmp_path / "out")
    text = out.read_bytes()
    schema = xmlschema.XMLSchema10(str(xsd), allow="local")
    # the store writes schema_version 1.0 by default; the ICD bound is >= 0.30
    errors = list(schema.iter_errors(text.decode()))
    assert errors == []
    bad = text.replace(b"<Band_Code>B12</Band_Code>", b"<Band_Code>B13</Band_Code>")
    assert len(list(schema.iter_errors(bad.decode()))) >= 1
