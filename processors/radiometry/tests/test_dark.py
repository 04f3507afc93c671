"""dark-signal: recovery of the simulator's dark, hot and spike detectors; bad inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from viq_interfaces import ExitCode, exit_code_for
from viq_proc_radiometry.errors import BadInputError
from viq_proc_radiometry.processors import DarkSignal
from viq_proc_simulator import SimulationRun, simulate
from viq_rad_testlib import in_force, make_ctx
from viq_venus import default_config
from viq_venus.gipp import read_gipp
from viq_venus.radiometry import pixel_maps


def test_dark_recovers_truth_hot_and_spikes(sims: dict[str, SimulationRun], tmp_path: Path) -> None:
    """Per-detector dark within 1.5× σ/√N (and well below 0.1 DN RMS), exact hot/spike sets, diff to in force."""
    run = sims["dark"]
    gipps = {"GIP_DARKCU": [in_force(run, "GIP_DARKCU", b) for b in ("B4", "B5", "B12")]}
    ctx = make_ctx(DarkSignal, tmp_path, {"dark": [run.products[0].header]}, gipps=gipps)
    result = DarkSignal().run(ctx)
    cfg = default_config()
    meas = {m.key: m for m in result.measurements}
    for out in [o for o in result.outputs if o.port == "darkcu"]:
        band = out.bands[0]
        gf = read_gipp(out.path, "GIP_DARKCU")
        est = np.asarray(gf.array("dark_currents"), dtype=np.float64)
        maps = pixel_maps(cfg, band, 8, 256)
        rms = float(np.sqrt(np.mean((est - maps.dark) ** 2)))
        bound = meas[f"dark_bound_rms_dn_{band}_tdi8"].value
        assert rms <= 1.5 * bound, (band, rms, bound)
        assert rms < 0.1
        assert meas[f"dark_rms_diff_dn_{band}_tdi8"].value == pytest.approx(rms, rel=1e-3)
        assert sorted(gf.content.hot_pixels) == sorted(int(h) for h in maps.hot)  # type: ignore[attr-defined]
        spikes = [s.pixel_position for s in gf.content.spikes]  # type: ignore[attr-defined]
        assert spikes == [int(c) for c in maps.spike_columns]
        assert out.tdi == 8 and gf.header.band == band and gf.header.file_class == "TEST"
    truth = run.truth(0)["bands"]
    assert truth["B4"]["hot_pixels"] == [12] and truth["B5"]["spike_columns"] == [127]  # the test scene has both
    assert any(o.port == "plot" and o.path.stat().st_size > 0 for o in result.outputs)


def test_flat_given_as_dark_is_refused(sims: dict[str, SimulationRun], tmp_path: Path) -> None:
    """A flat on the dark port ends with exit 134 naming the file; no candidate is written."""
    flat = sims["check"].products[0].header
    ctx = make_ctx(DarkSignal, tmp_path, {"dark": [flat]})
    with pytest.raises(BadInputError, match="flat acquisition") as err:
        DarkSignal().run(ctx)
    assert exit_code_for(err.value) == ExitCode.MISSING_INPUT
    assert not list((tmp_path / "out").glob("*.EEF"))


def test_scene_content_without_header_type_is_refused(tmp_path: Path, sims: dict[str, SimulationRun]) -> None:
    """Frames whose header says dark but whose content is lit are refused by the level/noise check."""
    run = sims["check"]
    hdr = run.products[0].header
    text = hdr.read_text(encoding="utf-8").replace("<Acquisition_Type>flat<", "<Acquisition_Type>dark<")
    fake = hdr.parent / "FAKE_DARK.HDR"
    fake.write_text(text, encoding="utf-8")
    ctx = make_ctx(DarkSignal, tmp_path, {"dark": [fake]})
    with pytest.raises(BadInputError, match="not dark frames"):
        DarkSignal().run(ctx)


def test_mixed_tdi_is_refused(tmp_path: Path, sims: dict[str, SimulationRun]) -> None:
    """Darks at TDI 8 and 16 in one run: exit 134 and a message naming both files."""
    other = simulate(tmp_path / "t16", acquisition="dark", bands=("B4",), lines=32, pixels=64, tdi=16,
                     products=("raw",), truth_gipps=False)
    ctx = make_ctx(DarkSignal, tmp_path, {"dark": [sims["dark"].products[0].header, other.products[0].header]})
    with pytest.raises(BadInputError, match="mixed TDI") as err:
        DarkSignal().run(ctx)
    assert exit_code_for(err.value) == ExitCode.MISSING_INPUT
