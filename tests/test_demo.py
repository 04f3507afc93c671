"""The demo campaign machinery: plan waves, skipped steps with reasons, GIPP import with evidence, report."""

from __future__ import annotations

import warnings
from pathlib import Path

from viq_host.catalog import ProductQuery
from viq_host.demo import Demo, From, Step
from viq_host.host import Host, open_host
from viq_host.monitoring.campaign import PlanNote, campaign_report
from viq_host.testing.harness import harness_settings


def _host(tmp_path: Path) -> Host:
    """A host on an isolated installation under ``tmp_path`` (plugin-loading warnings silenced)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return open_host(harness_settings(tmp_path))


def test_small_campaign_promotes_a_dark_candidate_with_its_evidence(tmp_path: Path) -> None:
    """Simulated darks → dark-signal → GIP_DARKCU candidates promoted to TEST on their measured evidence.

    A step whose processor is not installed and a step fed by it are skipped with their reasons, never faked.
    """
    plan = [
        Step("sim", "venus-simulator", "darks", {"acquisition": "dark", "bands": ["B3"], "tdi": 8, "lines": 128,
                                                 "pixels": 64, "seed": 5, "file_class": "TEST"}),
        Step("dark", "dark-signal", "dark candidate", inputs={"dark": [From("sim", "raw")]}),
        Step("ghost", "no-such-processor", "not installed", inputs={"dark": [From("sim", "raw")]}),
        Step("after-ghost", "dark-signal", "fed by the ghost", inputs={"dark": [From("ghost", "out")]}),
    ]
    with _host(tmp_path) as host:
        demo = Demo(host, tmp_path / "out", shared_data=None)
        run = demo.execute(plan)
        states = {r.step.key: r.state for r in run.steps}
        assert states["sim"] == "SUCCEEDED"
        assert states["dark"] == "SUCCEEDED"
        assert states["ghost"] == "skipped"
        assert "not installed" in (run.result("ghost") or run.steps[0]).reason
        assert states["after-ghost"] == "skipped"
        gipps = demo.import_candidates()
        darks = [g for g in gipps if g.gipp_type == "GIP_DARKCU"]
        assert len(darks) == 1
        (g,) = darks
        assert g.metric == "dark_bound_rms_dn"
        assert g.value is not None
        assert g.passed == (g.value <= 0.1)
        assert g.status == ("TEST" if g.passed else "CANDIDATE")
        validations = host.gipps.validations(g.gipp_id)
        assert [v.metric for v in validations] == ["dark_bound_rms_dn"]
        jobs = [r.job_id for r in run.steps if r.job_id]
        page = campaign_report(host.service, host.gipps, jobs,
                               notes=[PlanNote("no-such-processor", "not installed", "processor not installed")],
                               gipp_ids=[g.gipp_id])
        assert "dark_mean_dn" in page
        assert g.file_name in page
        assert "processor not installed" in page
        # the run is in the catalog with lineage back to the simulated product
        products = host.catalog.search(ProductQuery(product_type="GIP_DARKCU")).items
        candidates = [p for p in products if p.processor == "dark-signal"]
        assert len(candidates) == 1
        parents = {host.catalog.get(e.input_id).product_type for e in host.catalog.lineage(candidates[0].id, "up")}
        assert "VSC_RAWDAT" in parents


def test_without_reference_data_the_dem_steps_run_on_simulated_terrain(tmp_path: Path) -> None:
    """No shared data: the DEM steps fall back to the simulator's terrain, keep their keys, and dem-compare
    recovers the shift the simulator injected into the secondary DEM (Nuth & Kääb: 0.05 px, 0.05 m)."""
    from viq_host.demo import SIM_DEM_SHIFT, default_plan

    plan = {s.key: s for s in default_plan(128)}
    chosen = [plan["sim-terrain"], plan["refdem"], plan["demcmp"]]
    with _host(tmp_path) as host:
        demo = Demo(host, tmp_path / "out", shared_data=None)
        run = demo.execute(chosen)
        states = {r.step.key: r.state for r in run.steps}
        assert states == {"sim-terrain": "SUCCEEDED", "refdem": "SUCCEEDED", "demcmp": "SUCCEEDED"}
        cmp_ = run.result("demcmp")
        assert cmp_ is not None and cmp_.step is plan["demcmp"].fallback
        dx, dy, dz = SIM_DEM_SHIFT
        m = cmp_.measurements
        assert abs(m["dx_px"] - dx) < 0.05 and abs(m["dy_px"] - dy) < 0.05 and abs(m["dz_m"] - dz) < 0.05
        refdem = run.result("refdem")
        assert refdem is not None and any(o.product_type == "AUX_REFDE1" for o in refdem.outputs)
        assert refdem.measurements["void_fraction"] == 0.0


def test_a_step_and_its_fallback_both_without_inputs_are_skipped_with_both_reasons(tmp_path: Path) -> None:
    """When neither a step nor its fallback finds its inputs, the step is skipped and the reason names both."""
    plan = [Step("x", "dark-signal", "x", inputs={"dark": [From("nowhere", "raw")]},
                 fallback=Step("x", "dark-signal", "x too", inputs={"dark": [From("nowhere", "other")]})),
            Step("nowhere", "no-such-processor", "absent")]
    with _host(tmp_path) as host:
        run = Demo(host, tmp_path / "out", shared_data=None).execute(plan)
        res = run.result("x")
        assert res is not None and res.state == "skipped"
        assert "nowhere.raw" in res.reason and "instead" in res.reason and "nowhere.other" in res.reason
