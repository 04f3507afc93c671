"""GIPP store behaviour; every test runs on SQLite and on PostGIS (``store_url`` fixture)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from viq_host.gipp import (
    Applicability,
    ChecksumMismatch,
    GippAmbiguous,
    GippContentError,
    GippNotFound,
    GippStatus,
    GippStore,
    GippStoreError,
    InvalidTransition,
    OverlappingOper,
    PromotionConflict,
    PromotionRefused,
    VersionConflict,
)
from viq_host.gipp.eexml import read_gipp, write_gipp

from .conftest import dark_content, dark_values, draft, t, to_oper
from .models_for_tests import DarkCurrents


def snapshot(s: GippStore) -> tuple[object, ...]:
    """Everything observable about the store, to check a refused action changed nothing."""
    return (
        [(r.id, r.status, r.validity) for r in s.find()],
        len(s.audit()),
        sum(len(s.validations(r.id)) for r in s.find()),
    )


def test_add_validates_content_and_stores_arrays_as_checked_files(store: GippStore) -> None:
    """A DARKCU candidate is validated by its model; the 5200 values go to a sha256-named file, read back exact."""
    values = dark_values(1)
    rec = store.add(draft(start=t(2020), content=dark_content(values)), actor="bob")
    assert rec.status == GippStatus.CANDIDATE and rec.serial == 1 and rec.registered
    assert rec.file_name == "VE_TEST_GIP_DARKCU_L_ALLSITES_00001_20200101_99999999_B03_111100"
    assert [a.name for a in rec.arrays] == ["List_of_Dark_Currents/Dark_Current"]
    assert (store.directory / rec.arrays[0].path).is_file()
    np.testing.assert_array_equal(store.array(rec.id, "List_of_Dark_Currents/Dark_Current"), values)
    content = store.content(rec.id)
    assert isinstance(content, DarkCurrents)
    assert content.dark_currents.values == values.tolist()
    second = store.add(draft(start=t(2021), seed=2), actor="bob")
    assert second.serial == 2  # next in the series
    assert rec.producing_job == "job-42" and rec.input_products == ("VE_TEST_VSC_L1VALD_CAMARGUE_20200101",)


def test_wrong_array_length_is_refused_and_store_unchanged(store: GippStore) -> None:
    """5199 dark currents (5200 expected) raise GippContentError naming the field; nothing is stored."""
    before = snapshot(store)
    with pytest.raises(GippContentError, match=r"List_of_Dark_Currents/Dark_Current: List should have at least 5200"):
        store.add(draft(content=dark_content(dark_values(1)[:5199])), actor="bob")
    assert snapshot(store) == before


def test_altered_array_file_is_detected_on_read(store: GippStore) -> None:
    """Changing one byte of an array file makes array(), content() and export fail with ChecksumMismatch."""
    rec = store.add(draft(start=t(2020)), actor="bob")
    path = store.directory / rec.arrays[0].path
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    before = snapshot(store)
    with pytest.raises(ChecksumMismatch, match="was altered"):
        store.array(rec.id, "List_of_Dark_Currents/Dark_Current")
    with pytest.raises(ChecksumMismatch):
        store.export(rec.id, path.parent / "out")
    assert [m for m in store.verify_files() if f"#{rec.id}" in m]
    assert snapshot(store) == before


def test_lookup_by_band_tdi_site_and_time(store: GippStore) -> None:
    """in_force picks the one OPER GIPP for band/TDI/site/time; wrong band, TDI, site or time finds none."""
    b03 = store.add(draft(start=t(2020), stop=t(2022)), actor="bob")
    b04 = store.add(draft(start=t(2020), band="B04", seed=3), actor="bob")
    site = store.add(
        draft(start=t(2020), band="B05", tdi_set="001000", applicability=Applicability.site("CAMARGUE"), seed=4),
        actor="bob",
    )
    for rec in (b03, b04, site):
        to_oper(store, rec.id)
    assert store.in_force("GIP_DARKCU", band="B03", tdi=16, at=t(2021)).id == b03.id
    assert store.in_force("GIP_DARKCU", band="B04", tdi=4, at=t(2030)).id == b04.id
    assert store.in_force("GIP_DARKCU", band="B05", tdi=8, site="CAMARGUE", at=t(2021)).id == site.id
    with pytest.raises(GippNotFound, match="no OPER GIP_DARKCU for band B03, TDI 1"):
        store.in_force("GIP_DARKCU", band="B03", tdi=1, at=t(2021))  # 01 not in the TDI set 111100
    with pytest.raises(GippNotFound):
        store.in_force("GIP_DARKCU", band="B03", tdi=8, at=t(2022))  # validity stop is exclusive
    with pytest.raises(GippNotFound):
        store.in_force("GIP_DARKCU", band="B05", tdi=8, site="PERU", at=t(2021))
    with pytest.raises(GippNotFound):
        store.in_force("GIP_DARKCU", band="B03", tdi=8, at=t(2021), status="TEST")
    with pytest.raises(GippAmbiguous, match="3 GIPPs apply"):
        store.in_force("GIP_DARKCU", at=t(2021), site="CAMARGUE", tdi=8)  # no band given: B03 and B04 and B05


def test_promotion_is_refused_without_operator_reason_role_or_evidence(store: GippStore) -> None:
    """Promotion without reason, by a non-operator, without evidence or with failed evidence changes nothing."""
    rec = store.add(draft(start=t(2020)), actor="bob")
    before = snapshot(store)
    with pytest.raises(PromotionRefused, match="no validation result"):
        store.promote(rec.id, "TEST", operator="alice", reason="looks good")
    assert snapshot(store) == before
    store.attach_validation(rec.id, metric="residual_striping", value=0.09, threshold=0.05, actor="bob")
    before = snapshot(store)
    with pytest.raises(PromotionRefused, match="failed validation result.*residual_striping=0.09"):
        store.promote(rec.id, "TEST", operator="alice", reason="looks good")
    with pytest.raises(PromotionRefused, match="a reason is required"):
        store.promote(rec.id, "TEST", operator="alice", reason=" ")
    with pytest.raises(PromotionRefused, match="'bob' does not hold the operator role"):
        store.promote(rec.id, "TEST", operator="bob", reason="trust me")
    assert snapshot(store) == before
    good = store.add(draft(start=t(2021), seed=5), actor="bob")
    store.attach_validation(good.id, metric="residual_striping", value=0.01, threshold=0.05, actor="bob")
    assert store.promote(good.id, "TEST", operator="alice", reason="campaign").status == GippStatus.TEST


def test_unknown_transitions_are_refused(store: GippStore) -> None:
    """CANDIDATE → OPER skips TEST and is refused; a RETIRED GIPP can go nowhere; the store is unchanged."""
    rec = store.add(draft(start=t(2020)), actor="bob")
    store.attach_validation(rec.id, metric="residual_striping", value=0.01, actor="bob")
    before = snapshot(store)
    with pytest.raises(InvalidTransition, match="CANDIDATE; it cannot go to OPER"):
        store.promote(rec.id, "OPER", operator="alice", reason="hurry")
    assert snapshot(store) == before
    store.retire(rec.id, operator="alice", reason="superseded before use")
    with pytest.raises(InvalidTransition, match="RETIRED"):
        store.promote(rec.id, "TEST", operator="alice", reason="revive")
    with pytest.raises(InvalidTransition):
        store.retire(rec.id, operator="alice", reason="twice")
    with pytest.raises(ValueError, match="not a valid GippStatus|is not a valid"):
        store.promote(rec.id, "GOLD", operator="alice", reason="x")


def test_promotion_to_oper_closes_previous_validity_and_history_shows_both(store: GippStore) -> None:
    """A new OPER version from 2022 closes the 2020 OPER version at 2022; lookups follow time; audit says so."""
    old = store.add(draft(start=t(2020)), actor="bob")
    to_oper(store, old.id)
    new = store.add(draft(start=t(2022), seed=7), actor="bob")
    to_oper(store, new.id)
    old_now = store.get(old.id)
    assert old_now.validity.stop == t(2022) and old_now.original_stop is None
    assert old_now.status == GippStatus.OPER and old_now.file_name.endswith("_20200101_20220101_B03_111100")
    assert store.in_force("GIP_DARKCU", band="B03", tdi=8, at=t(2021, 6)).id == old.id
    assert store.in_force("GIP_DARKCU", band="B03", tdi=8, at=t(2022, 6)).id == new.id
    assert [r.id for r in store.history("GIP_DARKCU", band="B03")] == [old.id, new.id]
    closing = [a for a in store.audit() if a.action == "close-validity"]
    assert len(closing) == 1 and closing[0].gipp_id == old.id and closing[0].detail["new_stop"] == "2022-01-01T00:00:00"
    promo = [a for a in store.audit(new.id) if a.action == "promote"][-1]
    assert (promo.actor, promo.reason, promo.detail["to_status"]) == ("alice", "striping below threshold", "OPER")


def test_overlapping_oper_is_refused(store: GippStore) -> None:
    """OPER overlaps that closing cannot resolve (whole replacement, another applicability) are refused."""
    base = store.add(draft(start=t(2020)), actor="bob")
    to_oper(store, base.id)
    earlier = store.add(draft(start=t(2019), seed=8), actor="bob")
    store.attach_validation(earlier.id, metric="residual_striping", value=0.01, actor="bob")
    store.promote(earlier.id, "TEST", operator="alice", reason="t")
    before = snapshot(store)
    with pytest.raises(OverlappingOper, match="would wholly replace OPER GIPP"):
        store.promote(earlier.id, "OPER", operator="alice", reason="older data")
    assert snapshot(store) == before
    camargue = store.add(draft(start=t(2021), applicability=Applicability.site("CAMARGUE"), seed=9), actor="bob")
    store.attach_validation(camargue.id, metric="residual_striping", value=0.01, actor="bob")
    store.promote(camargue.id, "TEST", operator="alice", reason="t")
    before = snapshot(store)
    with pytest.raises(OverlappingOper, match="another applicability"):
        store.promote(camargue.id, "OPER", operator="alice", reason="site-specific")
    assert snapshot(store) == before


def test_concurrent_promotions_one_wins(open_store: Callable[[], GippStore], store: GippStore) -> None:
    """Two clients promote two candidates of one series at once: exactly one wins, the other gets a conflict."""
    ids = []
    for seed in (10, 11):
        rec = store.add(draft(start=t(2020 + seed - 9), seed=seed), actor="bob")
        store.attach_validation(rec.id, metric="residual_striping", value=0.01, actor="bob")
        store.promote(rec.id, "TEST", operator="alice", reason="t")
        ids.append(rec.id)
    seen = store.series_revision(ids[0])
    clients = [open_store(), open_store()]
    barrier = threading.Barrier(2)
    outcome: dict[int, object] = {}

    def run(i: int) -> None:
        barrier.wait()
        try:
            outcome[i] = clients[i].promote(ids[i], "OPER", operator="alice", reason="race", expected_revision=seen)
        except PromotionConflict as err:
            outcome[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in (0, 1)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    conflicts = [o for o in outcome.values() if isinstance(o, PromotionConflict)]
    assert len(outcome) == 2 and len(conflicts) == 1
    assert "changed meanwhile" in str(conflicts[0])
    assert len(store.find(gipp_type="GIP_DARKCU", status="OPER")) == 1


def test_export_import_export_is_byte_identical(store: GippStore, tmp_path: Path) -> None:
    """Exporting, importing into another store and exporting again gives identical bytes and the same record."""
    from viq_host.gipp import open_gipp_store

    rec = store.add(draft(start=t(2020), applicability=Applicability.site_list(["CAMARGUE", "PERU"])), actor="bob")
    to_oper(store, rec.id)
    first = store.export(rec.id, tmp_path / "a")
    assert first.name == "VE_OPER_GIP_DARKCU_L_NOTNAMED_00001_20200101_99999999_B03_111100.EEF"
    with open_gipp_store(f"sqlite:///{tmp_path / 'other.sqlite'}", store._plugins, directory=tmp_path / "o") as other:
        other.grant_role("carol", by="admin")
        imported = other.import_file(first, actor="carol", reason="baseline from the operational centre")
        assert imported.status == GippStatus.OPER and imported.applicability.sites == ("CAMARGUE", "PERU")
        assert imported.content_sha256 == rec.content_sha256
        assert (imported.producing_job, imported.processor_version) == (rec.producing_job, rec.processor_version)
        second = other.export(imported.id, tmp_path / "b")
    assert second.read_bytes() == first.read_bytes()
    assert write_gipp(read_gipp(second)) == first.read_bytes()


def test_import_conflicts_and_duplicates(store: GippStore, tmp_path: Path) -> None:
    """Re-importing a stored version returns it; the same version with other content is a VersionConflict."""
    rec = store.add(draft(start=t(2020)), actor="bob")
    path = store.export(rec.id, tmp_path / "x")
    assert store.import_file(path, actor="bob").id == rec.id
    changed = path.read_text().replace(
        f"<Dark_Current>{float(dark_values(0)[7])!r}</Dark_Current>", "<Dark_Current>99.0</Dark_Current>", 1
    )
    assert changed != path.read_text()
    path.write_text(changed)
    before = snapshot(store)
    with pytest.raises(VersionConflict, match="serial 00001 .* already stored as GIPP #"):
        store.import_file(path, actor="bob")
    assert snapshot(store) == before


def test_oper_import_overlapping_same_applicability_is_refused(store: GippStore, tmp_path: Path) -> None:
    """An OPER file whose validity overlaps a stored OPER version of the same series is refused."""
    rec = store.add(draft(start=t(2020)), actor="bob")
    to_oper(store, rec.id)
    other = store.add(draft(start=t(2021), seed=12, serial=5), actor="bob")
    path = store.export(other.id, tmp_path / "x")
    oper_path = tmp_path / path.name.replace("_TEST_", "_OPER_")
    oper_path.write_text(path.read_text().replace("TEST", "OPER").replace("00005", "00006"))
    before = snapshot(store)
    with pytest.raises(OverlappingOper, match="would overlap OPER GIPP"):
        store.import_file(oper_path, actor="alice", reason="baseline")
    with pytest.raises(PromotionRefused, match="operator role"):
        store.import_file(oper_path, actor="bob", reason="baseline")
    assert snapshot(store) == before


def test_unregistered_type_keeps_raw_data_block(store: GippStore, tmp_path: Path) -> None:
    """A type without a registered model keeps its Data_Block verbatim through export and import."""
    block = "<Data_Block><Pitch_Bias unit='deg'>0.0021</Pitch_Bias><Roll_Bias>-0.0003</Roll_Bias></Data_Block>"
    rec = store.add(draft("IMQ_SBPARS", band=None, tdi_set=None, content=block), actor="bob")
    assert not rec.registered and isinstance(store.content(rec.id), str)
    out = store.export(rec.id, tmp_path / "x")
    assert b'<Pitch_Bias unit="deg">0.0021</Pitch_Bias>' in out.read_bytes()
    assert store.import_file(out, actor="bob").id == rec.id
    with pytest.raises(GippStoreError, match="unknown GIPP type GIP_ZZZZZZ"):
        store.add(draft("GIP_ZZZZZZ", band=None, tdi_set=None, content="<Data_Block/>"), actor="bob")


def test_imq_and_aux_types_are_exported_under_their_own_name_layouts(store: GippStore, tmp_path: Path) -> None:
    """IMQ_SBPARS is named by its emission time (the validity start), not with the GIP pattern of calibration
    GIPPs; its export (a name without a serial) imports back as the same record, a new emission is a new one."""
    block = "<Data_Block><Pitch_Bias unit='deg'>0.0021</Pitch_Bias></Data_Block>"
    start = t(2024, 1, 31).replace(hour=10, minute=15)
    sb = store.add(draft("IMQ_SBPARS", band=None, tdi_set=None, content=block, start=start), actor="bob")
    out = store.export(sb.id, tmp_path / "x")
    assert out.name == "VE_TEST_IMQ_SBPARS_20240131T101500.EEF"
    assert store.import_file(out, actor="bob").id == sb.id
    # a new emission with other content is a new version, under its own emission time
    later = store.add(draft("IMQ_SBPARS", band=None, tdi_set=None, content=block.replace("0.0021", "0.0019"),
                            start=start.replace(month=3)), actor="bob")
    assert later.serial == sb.serial + 1
    assert store.export(later.id, tmp_path / "x").name == "VE_TEST_IMQ_SBPARS_20240331T101500.EEF"


def test_nothing_is_deleted_and_audit_is_append_only(store: GippStore) -> None:
    """The database itself refuses DELETE on GIPPs and UPDATE/DELETE on the audit trail."""
    rec = store.add(draft(start=t(2020)), actor="bob")
    with pytest.raises(Exception, match="never deleted"), store._db.transaction() as tx:
        tx.execute("DELETE FROM gipp WHERE id = ?", (rec.id,))
    with pytest.raises(Exception, match="append-only|never changed"), store._db.transaction() as tx:
        tx.execute("UPDATE gipp_audit SET actor = 'mallory'")
    assert store.get(rec.id).id == rec.id
    entries = store.audit()
    assert [(a.actor, a.action) for a in entries] == [("admin", "grant"), ("bob", "add")]


def test_migrations_are_recorded_once_and_newer_schema_refused(open_store: Callable[[], GippStore]) -> None:
    """Reopening migrates nothing twice; a database from a newer VIQ is refused with a clear message."""
    first = open_store()
    second = open_store()
    with second._db.transaction() as tx:
        assert tx.rows("SELECT version FROM gipp_schema_version") == [(1,)]
        tx.execute("INSERT INTO gipp_schema_version (version, description, applied_at) VALUES (99, 'x', 'now')")
    with pytest.raises(GippStoreError, match="schema version 99, newer than this VIQ"):
        open_store()
    assert first.schema_version == 1


def test_evidence_file_is_kept_with_checksum(store: GippStore, tmp_path: Path) -> None:
    """An evidence file is copied into the store with its sha256; altering the copy is reported."""
    rec = store.add(draft(start=t(2020)), actor="bob")
    evidence = tmp_path / "striping.json"
    evidence.write_text('{"metric": "residual_striping", "value": 0.012}')
    result = store.attach_validation(
        rec.id, metric="residual_striping", value=0.012, threshold=0.05, evidence_file=evidence, actor="bob"
    )
    assert result.passed is True and result.evidence_path is not None
    stored = store.directory / result.evidence_path
    assert stored.read_bytes() == evidence.read_bytes()
    assert list(store.verify_files()) == []
    stored.write_text("{}")
    assert any("evidence" in m and "altered" in m for m in store.verify_files())
