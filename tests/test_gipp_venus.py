"""VENµS GIPP files (viq_venus content models with sidecar arrays) go through the GIPP store intact."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from viq_host.gipp.models import ChecksumMismatch
from viq_host.gipp.store import GippStore, open_gipp_store
from viq_host.plugins import load_plugins
from viq_proc_simulator import simulate
from viq_venus.gipp.xmlio import read_gipp


@pytest.fixture
def store(tmp_path: Path) -> GippStore:
    """An empty SQLite GIPP store with the installed content models."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # a plugin under development elsewhere must not fail this test
        plugins = load_plugins()
    return open_gipp_store(f"sqlite:///{tmp_path / 'g.sqlite'}", plugins, directory=tmp_path / "gipp")


def test_truth_gipps_import_export_and_read_back_identical(store: GippStore, tmp_path: Path) -> None:
    """Every truth GIPP of a simulated dark acquisition imports as typed content; exported files re-read equal."""
    run = simulate(tmp_path / "sim", acquisition="dark", bands=("B3",), lines=16, pixels=64, seed=3)
    gipps = [g for g in run.gipps if g.gipp_type.startswith("GIP_")]  # IMQ_* names follow another pattern
    assert {g.gipp_type for g in gipps} >= {"GIP_DARKCU", "GIP_RELSEN", "GIP_PHGAIN", "GIP_NOISMO"}
    for written in gipps:
        rec = store.import_file(written.path, actor="engineer")
        assert rec.registered, f"{written.gipp_type} was not validated by its content model"
        out = store.export(rec.id, tmp_path / "export")
        original = read_gipp(written.path)
        again = read_gipp(out)
        assert again.content == original.content
        for name, value in original.content:
            if hasattr(value, "sha256") and hasattr(value, "file"):
                assert np.array_equal(again.array(name), original.array(name))


def test_tampered_sidecar_is_refused_and_nothing_stored(store: GippStore, tmp_path: Path) -> None:
    """A sidecar whose bytes differ from the sha256 in the header is a ChecksumMismatch; the store stays empty."""
    run = simulate(tmp_path / "sim", acquisition="dark", bands=("B3",), lines=16, pixels=64, seed=3)
    darks = [g for g in run.gipps if g.gipp_type == "GIP_DARKCU"]
    assert darks
    sidecars = sorted(darks[0].path.parent.glob(f"{darks[0].path.stem}*.npy"))
    assert sidecars
    arr = np.load(sidecars[0])
    arr.flat[0] += 1
    np.save(sidecars[0], arr)
    with pytest.raises(ChecksumMismatch, match="sha256"):
        store.import_file(darks[0].path, actor="engineer")
    assert store.find(gipp_type="GIP_DARKCU") == []
