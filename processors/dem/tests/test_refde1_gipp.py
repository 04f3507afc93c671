"""A reference-dem output registered in the GIPP store for its site: import, lookup, export, re-import."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

import viq_host.gipp as gipp
import viq_host.plugins as plugins_mod
from viq_dem_testlib import make_context
from viq_interfaces import InputProduct
from viq_proc_dem import refde1
from viq_proc_dem.reference_dem import ReferenceDemProcessor

SITE = "POLYGON((5.21 44.21,5.38 44.21,5.38 44.37,5.21 44.37,5.21 44.21))"


def _reference_dem(tmp_path: Path, tile_factory: Callable[..., Path]) -> dict[str, Path]:
    tile = tile_factory(5, 44, 120)
    ctx = make_context(ReferenceDemProcessor, tmp_path / "out", {"tiles": [InputProduct(tile, "AUX_SRTM3_")]},
                       site="Ventoux", footprint_wkt=SITE, output_heights="geoid", resolution=100.0,
                       validity_start=date(2024, 1, 1), file_version=3)
    res = ReferenceDemProcessor().run(ctx)
    return {o.port: o.path for o in res.outputs}


def test_reference_dem_registers_in_the_gipp_store(tmp_path: Path, tile_factory: Callable[..., Path]) -> None:
    """The .HDR written by reference-dem imports into the GIPP store (AUX_REFDE1 name, site VENTOUX, version
    3, validity from 2024-01-01) with its COGs as checksummed sidecars; once promoted to TEST it is the one
    in_force('AUX_REFDE1', site='VENTOUX'), not for another site nor before its validity; it exports under its
    own name with the COGs beside it, byte-identical, and the export imports back as the same record."""
    out = _reference_dem(tmp_path, tile_factory)
    hdr = out["header"]
    assert hdr.name == "VE_TEST_AUX_REFDE1_E00521N4437_E00538N4421_0003.HDR"
    plugins = plugins_mod.load_plugins(extra=[refde1], entry_points_enabled=False)
    with gipp.open_gipp_store(f"sqlite:///{tmp_path / 'g.sqlite'}", plugins, directory=tmp_path / "store") as store:
        store.grant_role("alice", by="admin", reason="DEM engineer")
        rec = store.import_file(hdr, actor="bob")
        assert rec.gipp_type == "AUX_REFDE1" and rec.registered and rec.serial == 3
        assert rec.applicability.sites == ("VENTOUX",) and rec.applicability.kind == "SITE"
        assert rec.validity.start == datetime(2024, 1, 1, tzinfo=UTC) and rec.validity.stop is None
        assert rec.file_name == hdr.name.removesuffix(".HDR")
        stored = {a.name.removeprefix("sidecar:"): a.sha256 for a in rec.arrays}
        for port in ("dem", "fill_mask", "slope", "aspect"):
            rel = str(out[port].relative_to(hdr.parent))
            assert stored[rel] == hashlib.sha256(out[port].read_bytes()).hexdigest()
        content = store.content(rec.id)
        assert isinstance(content, refde1.RefDe1Content)
        assert content.viq_information.site == "Ventoux" and content.viq_information.vertical_datum == "EGM96"

        with pytest.raises(gipp.GippNotFound):
            store.in_force("AUX_REFDE1", site="VENTOUX", status="TEST")  # still a candidate
        store.attach_validation(rec.id, metric="filled_fraction", value=content.viq_information.filled_fraction,
                                threshold=0.05, actor="alice")
        store.promote(rec.id, "TEST", operator="alice", reason="site DEM checked")
        at = datetime(2025, 6, 1, tzinfo=UTC)
        assert store.in_force("AUX_REFDE1", site="VENTOUX", status="TEST", at=at).id == rec.id
        assert store.all_in_force("AUX_REFDE1", site="CAMARGUE", status="TEST", at=at) == []
        assert store.all_in_force("AUX_REFDE1", site="VENTOUX", status="TEST", at=datetime(2023, 1, 1)) == []

        exported = store.export(rec.id, tmp_path / "export")
        assert exported.name == "VE_TEST_AUX_REFDE1_E00521N4437_E00538N4421_0003.EEF"
        for port in ("dem", "fill_mask"):
            copy = tmp_path / "export" / out[port].relative_to(hdr.parent)
            assert copy.read_bytes() == out[port].read_bytes()
        again = store.import_file(exported, actor="bob")
        assert again.id == rec.id  # same content, same version: recognised, not stored twice
        assert len(store.find("AUX_REFDE1")) == 1


def test_altered_cog_or_wrong_corners_are_refused(tmp_path: Path, tile_factory: Callable[..., Path]) -> None:
    """A COG changed after the header was written fails the sidecar checksum; a header whose file name does not
    name the corners of its bounding box is refused; the store is unchanged in both cases."""
    out = _reference_dem(tmp_path, tile_factory)
    hdr = out["header"]
    plugins = plugins_mod.load_plugins(extra=[refde1], entry_points_enabled=False)
    with gipp.open_gipp_store(f"sqlite:///{tmp_path / 'g.sqlite'}", plugins, directory=tmp_path / "store") as store:
        wrong = hdr.with_name(hdr.name.replace("E00521N4437", "E00522N4437"))
        wrong.write_text(hdr.read_text().replace("E00521N4437", "E00522N4437"))
        with pytest.raises(gipp.GippFileError, match="disagrees with the content's E00521N4437"):
            store.import_file(wrong, actor="bob")
        data = bytearray(out["fill_mask"].read_bytes())
        data[-1] ^= 0xFF
        out["fill_mask"].write_bytes(bytes(data))
        with pytest.raises(gipp.ChecksumMismatch, match="_MSK.TIF has sha256"):
            store.import_file(hdr, actor="bob")
        assert store.find("AUX_REFDE1") == []
