"""AUX and IMQ file names (FACTS.md §3.20–21) next to the GIP pattern, and stand-alone ``.HDR`` headers."""

from __future__ import annotations

from pathlib import Path

import pytest

from viq_host.gipp import GippStore
from viq_host.gipp.eexml import GippName, read_gipp_bytes

HDR = """<?xml version="1.0" encoding="UTF-8"?>
<Earth_Explorer_Header xmlns="http://eop-cfi.esa.int/CFI">
  <Fixed_Header>
    <File_Name>{name}</File_Name>
    <File_Description>ReferenceDemDataLevel1</File_Description>
    <Notes>hand written</Notes>
    <Mission>VENuS</Mission>
    <File_Class>TEST</File_Class>
    <File_Type>AUX_REFDE1</File_Type>
    <Validity_Period>
      <Validity_Start>UTC=2024-01-01T00:00:00</Validity_Start>
      <Validity_Stop>UTC=9999-99-99T99:99:99</Validity_Stop>
    </Validity_Period>
    <File_Version>{version}</File_Version>
    <Source><System>VIQ</System><Creator>hand</Creator><Creator_Version>1</Creator_Version>
      <Creation_Date>UTC=2024-01-02T00:00:00</Creation_Date></Source>
  </Fixed_Header>
  <Variable_Header>
    <Specific_Product_Header>
      <Instance_Id><File_Version>{version}</File_Version></Instance_Id>
      <List_of_Applicable_SiteDefinition_Ids count="2">
        <Applicable_SiteDefinition_Id sn="1">VE_TEST_MPL_SITDEF_S_VENTOUX_</Applicable_SiteDefinition_Id>
        <Applicable_SiteDefinition_Id sn="2">VE_TEST_MPL_SITDEF_S_CAMARGUE</Applicable_SiteDefinition_Id>
      </List_of_Applicable_SiteDefinition_Ids>
      <DEM_Information><Comment>SRTM</Comment></DEM_Information>
    </Specific_Product_Header>
  </Variable_Header>
</Earth_Explorer_Header>
"""


@pytest.mark.parametrize(
    ("name", "layout", "nick", "serial", "instance"),
    [
        ("VE_TEST_AUX_REFDE1_E00520N4437_E00538N4421_0003", "BBOX", "ALLSITES", 3, "E00520N4437_E00538N4421"),
        ("VE_OPER_AUX_REFIMG_W00120S0530_W00100S0610_0012", "BBOX", "ALLSITES", 12, "W00120S0530_W00100S0610"),
        ("VE_TEST_AUX_REFDE2_PERU_____0002", "SITE_VERSION", "PERU", 2, ""),
        ("VE_TEST_IMQ_SBPARS_20240131T101500", "EMISSION", "ALLSITES", 0, "20240131T101500"),
        ("VE_TEST_IMQ_IQIMES_20240131T101500", "EMISSION", "ALLSITES", 0, "20240131T101500"),
        ("VE_TEST_IMQ_RFGEOM_CAMARGUE_20240101_20240203", "SITE_DATES", "CAMARGUE", 0, "20240101_20240203"),
        ("VE_TEST_IMQ_ATPSET_SUDOUEST_0001_20240101T000000_20240201T000000", "SITE_VERSION_TIMES", "SUDOUEST", 1,
         "20240101T000000_20240201T000000"),
    ],
)
def test_aux_and_imq_names_round_trip(name: str, layout: str, nick: str, serial: int, instance: str) -> None:
    """Each AUX/IMQ layout of the ICD dictionary splits into its parts and prints back to the same name."""
    parts = GippName.parse(name + ".HDR")
    assert (parts.layout, parts.nick, parts.serial, parts.instance) == (layout, nick, serial, instance)
    assert str(parts) == name
    assert parts.has_validity is False


@pytest.mark.parametrize(
    "bad",
    [
        "VE_TEST_AUX_REFDE1_E00520N4437_0003",  # one corner only
        "VE_TEST_AUX_REFDE1_E0052N4437_E00538N4421_0003",  # 4 longitude digits
        "VE_TEST_IMQ_SBPARS_20240131",  # no time
        "VE_TEST_GIP_DARKCU_20240131T101500",  # a GIPP type keeps the GIP pattern
    ],
)
def test_malformed_aux_names_are_refused(bad: str) -> None:
    """AUX/IMQ names that miss a part, and GIP types in another layout, raise ValueError."""
    with pytest.raises(ValueError, match="does not follow"):
        GippName.parse(bad)


def test_standalone_header_reads_site_list_and_version() -> None:
    """An Earth_Explorer_Header (.HDR) reads: applicability from its site list, validity from the header, content =
    the Specific_Product_Header without the site list; a File_Version differing from the name's is refused."""
    name = "VE_TEST_AUX_REFDE1_E00520N4437_E00538N4421_0003"
    doc = read_gipp_bytes(HDR.format(name=name, version="0003").encode(), source="x.HDR")
    assert doc.applicability.kind == "LIST" and doc.applicability.sites == ("CAMARGUE", "VENTOUX")
    assert doc.validity.start is not None and doc.validity.start.year == 2024
    assert [c.tag.split("}")[1] for c in doc.data_block] == ["Instance_Id", "DEM_Information"]
    assert doc.root_type == ""
    with pytest.raises(ValueError, match="version 0003 disagrees with File_Version 0004"):
        read_gipp_bytes(HDR.format(name=name, version="0004").encode(), source="x.HDR")


def test_raw_refde1_header_imports_and_keeps_the_gip_name(store: GippStore, tmp_path: Path) -> None:
    """Without a content model, an AUX_REFDE1 header is stored raw (version = serial) and exported under the GIP
    pattern (its corners are known only to a model); the export imports back as the same record."""
    path = tmp_path / "VE_TEST_AUX_REFDE1_E00520N4437_E00538N4421_0003.HDR"
    path.write_text(HDR.format(name=path.stem, version="0003"))
    rec = store.import_file(path, actor="bob")
    assert rec.serial == 3 and not rec.registered and rec.instance_id is None
    out = store.export(rec.id, tmp_path / "x")
    assert out.name == "VE_TEST_AUX_REFDE1_L_NOTNAMED_00003_20240101_99999999.EEF"
    assert store.import_file(out, actor="bob").id == rec.id
