"""``viq demo``: one calibration campaign end to end, on embedded defaults, through the real host.

The demo is a *plan* of steps, each a processor run named by its registered name (the host never imports a
processor package). A step's inputs are files of earlier steps' outputs (by output port and optionally by
product type) or files found on disk (shared reference data, copied into the data roots). A step whose
processor is not installed, or whose inputs did not materialise, is reported as skipped with the reason —
nothing is ever invented. Then the candidate GIPPs are imported into the GIPP store with the evidence their
processors measured, promoted to TEST when the evidence passes, and the campaign and performance reports
are written.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import shapely
import shapely.affinity

from viq_host.host import Host
from viq_host.jobs.build import build_job_order
from viq_host.jobs.store import JobState
from viq_interfaces.errors import InvalidJobOrder, RegistryError, ViqError
from viq_interfaces.result import OutputProduct

SHARED_DATA = Path(__file__).resolve().parents[3].parent / "shared" / "data"
"""``../shared/data`` beside the checkout, when present (real reference data; optional)."""

DEMO_OPERATOR = "demo-operator"


@dataclass(frozen=True)
class From:
    """Input files taken from an earlier step's outputs."""

    step: str
    port: str
    product_type: str | None = None
    name_contains: str | None = None


@dataclass(frozen=True)
class Shared:
    """Input files from the shared reference data (copied into the data roots), when present."""

    relative: str


@dataclass(frozen=True)
class FootprintOf:
    """A parameter value: the footprint (WKT) of an earlier step's output, scaled about its centroid."""

    step: str
    port: str
    scale: float = 1.0


@dataclass(frozen=True)
class Step:
    """One processor run of the plan."""

    key: str
    processor: str
    title: str
    params: Mapping[str, Any] = field(default_factory=dict)
    inputs: Mapping[str, Sequence[From | Shared]] = field(default_factory=dict)
    optional_inputs: frozenset[str] = frozenset()
    fan_out: str | None = None
    """Run one job per file of this port (e.g. one per campaign date, to build a time series)."""
    paired: frozenset[str] = frozenset()
    """With ``fan_out``: ports whose files are matched to each fanned-out file by file-name stem."""
    candidates: bool | str = True
    """Import this step's GIPP outputs as candidates (``"last"``: only those of its last fanned-out job)."""
    fallback: Step | None = None
    """Run this step instead (same key in the results) when this one's inputs cannot be found."""

    def needs(self) -> set[str]:
        """Keys of the earlier steps this step (or its fallback) takes inputs or parameters from."""
        keys = {r.step for refs in self.inputs.values() for r in refs if isinstance(r, From)}
        keys |= {v.step for v in self.params.values() if isinstance(v, FootprintOf)}
        return keys | (self.fallback.needs() if self.fallback is not None else set())


@dataclass
class StepResult:
    """What happened to one step."""

    step: Step
    state: str  # JobState value, or "skipped"
    reason: str = ""
    job_id: str | None = None
    exit_code: int | None = None
    seconds: float = 0.0
    outputs: tuple[OutputProduct, ...] = ()
    measurements: dict[str, float] = field(default_factory=dict)
    measurement_names: frozenset[str] = frozenset()
    """Names (not flat keys) of the measurements, for the performance report."""

    @property
    def ok(self) -> bool:
        """Succeeded (possibly with warnings)."""
        return self.state in (JobState.SUCCEEDED.value, JobState.WARNING.value)


BANDS = ("B3", "B7", "B11")
SIM_DEM_SHIFT = (1.3, -2.2, 1.5)
"""Shift of the simulated secondary DEM (dx px, dy px, dz m) that the demo's dem-compare must recover."""
TDI = 8


def default_plan(size: int = 256) -> list[Step]:
    """The calibration campaign the demo runs (small sizes: a few minutes on two cores)."""
    common = {"bands": list(BANDS), "tdi": TDI, "pixels": size, "file_class": "TEST"}
    return [
        Step("sim-dark", "venus-simulator", "Simulate dark acquisitions (shutter closed)",
             {**common, "acquisition": "dark", "lines": size, "seed": 11}),
        Step("sim-flat", "venus-simulator", "Simulate uniform acquisitions at four radiance levels",
             {**common, "acquisition": "flat", "lines": size, "levels": [25.0, 60.0, 100.0, 140.0], "seed": 12}),
        Step("sim-edge", "venus-simulator", "Simulate a slanted-edge target (MTF)",
             {**common, "bands": ["B4"], "acquisition": "edge", "lines": 3 * size, "pixels": max(128, size // 2),
              "products": ["l1"], "truth_gipps": False, "seed": 13}),
        Step("sim-scene", "venus-simulator", "Simulate a textured scene with its reference ortho-image",
             {**common, "acquisition": "scene", "lines": size, "products": ["l1", "reference"],
              "truth_gipps": False, "seed": 14}),
        Step("sim-campaign", "venus-simulator", "Simulate a desert-site campaign over two years (gain drift)",
             {**common, "acquisition": "campaign", "campaign_acquisition": "desert", "lines": size // 2,
              "campaign_dates": 6, "campaign_interval_days": 120.0, "campaign_site_count": 1,
              "products": ["raw"], "truth_gipps": False, "seed": 15}),
        Step("sim-terrain", "venus-simulator",
             "Simulate a terrain acquisition (B5/B6 parallax), its DEM and a copy of the DEM shifted by a known amount",
             {**common, "bands": ["B5", "B6"], "acquisition": "terrain", "lines": size, "products": ["l1"],
              "truth_gipps": False, "relief_m": 300.0, "dem_secondary_shift": list(SIM_DEM_SHIFT), "seed": 16}),
        Step("dark", "dark-signal", "Dark signal → GIP_DARKCU candidate",
             inputs={"dark": [From("sim-dark", "raw")]}),
        Step("relsen", "relative-sensitivity", "Relative sensitivity → GIP_RELSEN / GIP_OUTORD candidates",
             inputs={"flat": [From("sim-flat", "raw")], "dark": [From("sim-dark", "raw")]},
             optional_inputs=frozenset({"dark"})),
        Step("noise", "noise-model", "Noise model and SNR → GIP_NOISMO candidate",
             inputs={"flat": [From("sim-flat", "raw")], "dark": [From("sim-dark", "raw")]},
             optional_inputs=frozenset({"dark"})),
        Step("absolute", "absolute-calibration",
             "Absolute gain at each campaign date (trend); the latest date gives the GIP_PHGAIN candidate",
             inputs={"site": [From("sim-campaign", "raw")], "reference": [From("sim-campaign", "truth")],
                     "dark": [From("sim-dark", "raw")], "phgain": [From("sim-dark", "truth_phgain")]},
             optional_inputs=frozenset({"phgain"}), fan_out="site", paired=frozenset({"reference"}),
             candidates="last"),
        Step("mtf", "slanted-edge-mtf", "Slanted-edge MTF (ISO 12233)",
             inputs={"image": [From("sim-edge", "l1")]}),
        Step("b2b", "band-to-band", "Band-to-band registration residuals and attitude model",
             {"reference_band": BANDS[0], "window": 48, "step_lines": 16, "step_cols": 48},
             inputs={"product": [From("sim-scene", "l1")]}),
        Step("registration", "image-registration", "Registration of the scene against its reference ortho-image",
             {"grid_step": 40, "window": 64, "min_window": 32, "band": BANDS[1]},
             inputs={"reference": [From("sim-scene", "reference")], "target": [From("sim-scene", "l1")]}),
        Step("biases", "viewing-bias", "Steering biases (pitch/roll/yaw) → IMQ_SBPARS candidate",
             {"grid_step": 32, "window": 64},
             inputs={"product": [From("sim-scene", "l1")], "reference": [From("sim-scene", "reference")]}),
        Step("refdem", "reference-dem", "Reference DEM (AUX_REFDE1) for the Mont Ventoux area from SRTM",
             {"footprint_wkt": "POLYGON((5.10 44.05, 5.45 44.05, 5.45 44.30, 5.10 44.30, 5.10 44.05))",
              "resolution": 90.0, "crs": "EPSG:32631", "slope_aspect": False},
             inputs={"tiles": [Shared("srtm_ventoux_n44e005/N44E005.hgt")],
                     "geoid": [Shared("srtm_ventoux_n44e005/egm96_15.gtx")]},
             optional_inputs=frozenset({"geoid"}),
             fallback=Step("refdem", "reference-dem",
                           "Reference DEM (AUX_REFDE1) from the simulated terrain (the SRTM tiles are not here)",
                           {"footprint_wkt": FootprintOf("sim-terrain", "dem", 0.7), "resolution": 10.0,
                            "crs": "auto", "source_vertical_datum": "ellipsoid", "slope_aspect": False},
                           inputs={"tiles": [From("sim-terrain", "dem")]})),
        Step("demcmp", "dem-compare", "DEM comparison (Nuth & Kääb) on the SRTM shifted pair",
             inputs={"reference": [Shared("demcompare_srtm_shift/input/srtm_ref.tif")],
                     "secondary": [Shared("demcompare_srtm_shift/input/srtm_blurred_and_shifted.tif")]},
             fallback=Step("demcmp", "dem-compare",
                           "DEM comparison (Nuth & Kääb) of the simulated DEM and its copy shifted by "
                           f"dx {SIM_DEM_SHIFT[0]} px, dy {SIM_DEM_SHIFT[1]} px, dz {SIM_DEM_SHIFT[2]} m (the truth)",
                           inputs={"reference": [From("sim-terrain", "dem")],
                                   "secondary": [From("sim-terrain", "dem_secondary")]})),
    ]


EVIDENCE: dict[str, tuple[str, float | None, float | None]] = {
    # GIPP type → (measurement of the producing run used as validation evidence, min, max)
    "GIP_DARKCU": ("dark_bound_rms_dn", None, 0.1),
    "GIP_RELSEN": ("striping_after_pct", None, 0.5),
    "GIP_OUTORD": ("striping_after_pct", None, 0.5),
    "GIP_NOISMO": ("snr", 100.0, None),
    # a gain update is expected to differ from the gain in force: the check is plausibility, not equality
    "GIP_PHGAIN": ("gain_change_pct", -10.0, 10.0),
    "IMQ_SBPARS": ("bias_fit_rmse_px", None, 0.1),
    "AUX_REFDE1": ("void_fraction", None, 0.05),
}


@dataclass
class GippOutcome:
    """A candidate GIPP imported by the demo, with its evidence and final status."""

    gipp_id: int
    gipp_type: str
    band: str | None
    file_name: str
    metric: str
    value: float | None
    passed: bool | None
    status: str


@dataclass
class DemoRun:
    """Everything the demo did (feeds the campaign report)."""

    out_dir: Path
    started: datetime
    steps: list[StepResult] = field(default_factory=list)
    gipps: list[GippOutcome] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def result(self, key: str) -> StepResult | None:
        """Result of the step called ``key`` (the first job of a fanned-out step)."""
        return next((r for r in self.steps if r.step.key == key), None)

    def results(self, key: str) -> list[StepResult]:
        """Every job of the step called ``key``."""
        return [r for r in self.steps if r.step.key == key]


class Demo:
    """Runs a plan through an assembled host."""

    def __init__(
        self,
        host: Host,
        out_dir: Path,
        *,
        shared_data: Path | None = SHARED_DATA,
        progress: Callable[[str], None] = lambda _msg: None,
        runner: Callable[[Host, list[str]], None] | None = None,
    ) -> None:
        self.host = host
        self.run = DemoRun(out_dir=out_dir, started=datetime.now(UTC))
        self.shared = shared_data if shared_data is not None and shared_data.is_dir() else None
        self.progress = progress
        self.runner = runner or (lambda h, ids: h.service.run_until_done(ids))

    # -- inputs ---------------------------------------------------------------------------------------

    def _from(self, ref: From) -> list[Path]:
        return [
            Path(o.path)
            for prior in self.run.results(ref.step)
            if prior.ok
            for o in prior.outputs
            if o.port == ref.port
            and (ref.product_type is None or o.product_type == ref.product_type)
            and (ref.name_contains is None or ref.name_contains in Path(o.path).name)
        ]

    def _shared(self, ref: Shared) -> list[Path]:
        if self.shared is None:
            return []
        src = self.shared / ref.relative
        if not src.is_file():
            return []
        dest = self.host.settings.home / "data" / "shared" / ref.relative
        if not dest.is_file():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest)
        return [dest]

    def resolve(self, step: Step) -> tuple[dict[str, list[Path]], str]:
        """Input files per port, or an empty dict and the reason the step cannot run."""
        resolved: dict[str, list[Path]] = {}
        for port, refs in step.inputs.items():
            files: list[Path] = []
            for ref in refs:
                files += self._from(ref) if isinstance(ref, From) else self._shared(ref)
            if files:
                resolved[port] = files
            elif port not in step.optional_inputs:
                what = ", ".join(
                    f"{r.step}.{r.port}" if isinstance(r, From) else f"shared data {r.relative}" for r in refs
                )
                return {}, f"no input for port {port!r} (from {what})"
        return resolved, ""

    # -- running --------------------------------------------------------------------------------------

    @staticmethod
    def _split(step: Step, inputs: dict[str, list[Path]]) -> list[dict[str, list[Path]]]:
        """One input set per fanned-out file, paired ports matched by file-name stem."""
        if step.fan_out is None or step.fan_out not in inputs:
            return [inputs]
        sets = []
        for item in sorted(inputs[step.fan_out]):  # names carry the date: chronological
            stem = item.stem
            one = {k: v for k, v in inputs.items() if k != step.fan_out and k not in step.paired}
            one[step.fan_out] = [item]
            for port in step.paired:
                one[port] = [f for f in inputs.get(port, []) if f.name.startswith(stem)]
            sets.append(one)
        return sets

    def _footprint(self, ref: FootprintOf) -> str | None:
        wkt = next((o.footprint_wkt for prior in self.run.results(ref.step) if prior.ok for o in prior.outputs
                    if o.port == ref.port and o.footprint_wkt), None)
        if wkt is None:
            return None
        geom = shapely.from_wkt(wkt)
        return str(shapely.affinity.scale(geom, ref.scale, ref.scale, origin="centroid").wkt)

    def _params(self, step: Step) -> tuple[dict[str, Any], str]:
        """The step's parameters with references to earlier outputs resolved, or the reason they cannot be."""
        params: dict[str, Any] = {}
        for name, value in step.params.items():
            if isinstance(value, FootprintOf):
                wkt = self._footprint(value)
                if wkt is None:
                    return {}, f"no footprint for parameter {name!r} (from {value.step}.{value.port})"
                value = wkt
            params[name] = value
        return params, ""

    def _choose(self, step: Step) -> tuple[Step, dict[str, list[Path]], dict[str, Any], str]:
        """The step, or its fallback when the step's own inputs cannot be found; its inputs and parameters."""
        inputs, why = self.resolve(step)
        params, why_params = self._params(step) if not why else ({}, "")
        why = why or why_params
        if why and step.fallback is not None:
            chosen, fb_inputs, fb_params, fb_why = self._choose(step.fallback)
            if not fb_why:
                return chosen, fb_inputs, fb_params, ""
            why = f"{why}; instead: {fb_why}"
        return step, inputs, params, why

    def _submit(self, step: Step) -> list[StepResult]:
        step, inputs, params, why = self._choose(step)
        try:
            cls = self.host.plugins.processors.get(step.processor)
        except RegistryError as err:
            return [StepResult(step, "skipped", f"processor not installed: {err}")]
        if why:
            return [StepResult(step, "skipped", why)]
        decl = cls.declaration
        known_ports = {p.name for p in decl.inputs}
        inputs = {k: v for k, v in inputs.items() if k in known_ports}
        params = {k: v for k, v in params.items() if k in cls.Parameters.model_fields}
        results = []
        for one in self._split(step, inputs):
            order = build_job_order(decl, inputs=one, params=params)
            try:
                job_id = self.host.service.submit(order)
            except (InvalidJobOrder, ViqError) as err:
                results.append(StepResult(step, JobState.FAILED.value, f"rejected: {err}"))
                continue
            results.append(StepResult(step, JobState.QUEUED.value, job_id=job_id))
        return results

    def _collect(self, pending: StepResult, seconds: float) -> None:
        assert pending.job_id is not None
        status = self.host.service.status(pending.job_id)
        pending.state = status.job.state.value
        pending.reason = status.job.reason
        pending.exit_code = status.job.exit_code
        pending.seconds = seconds
        if status.result is not None:
            pending.outputs = status.result.outputs
            pending.measurements = {m.key: m.value for m in status.result.measurements}
            pending.measurement_names = frozenset(m.name for m in status.result.measurements)

    def execute(self, plan: Sequence[Step]) -> DemoRun:
        """Run the plan in waves: every step whose inputs are ready is submitted, then the wave runs."""
        remaining = list(plan)
        while remaining:
            ready = [s for s in remaining if all(self.run.result(k) is not None for k in s.needs())]
            if not ready:  # inputs refer to unknown steps: report and stop
                for s in remaining:
                    self.run.steps.append(StepResult(s, "skipped", "inputs refer to steps not in the plan"))
                break
            wave: list[StepResult] = []
            for step in ready:
                remaining.remove(step)
                for res in self._submit(step):
                    self.run.steps.append(res)
                    if res.job_id:
                        wave.append(res)
                        self.progress(f"submitted {step.processor}: {step.title}")
                    else:
                        self.progress(f"{res.state}: {step.processor}: {res.reason}")
            if wave:
                t0 = time.monotonic()
                self.runner(self.host, [r.job_id for r in wave if r.job_id])
                for res in wave:
                    self._collect(res, time.monotonic() - t0)
                    self.progress(f"{res.state}: {res.step.processor} ({res.reason or 'ok'})")
        return self.run

    # -- GIPPs ---------------------------------------------------------------------------------------

    def import_candidates(self) -> list[GippOutcome]:
        """Import every candidate GIPP, attach its run's evidence, promote passing ones to TEST."""
        store = self.host.gipps
        store.grant_role(DEMO_OPERATOR, by="viq demo", reason="demo campaign operator")
        known = set(store.known_types())
        for res in self.run.steps:
            if not res.ok or res.step.processor == "venus-simulator" or not res.step.candidates:
                continue
            if res.step.candidates == "last" and res is not self.run.results(res.step.key)[-1]:
                continue
            for out in res.outputs:
                if out.product_type not in known or not Path(out.path).name.upper().endswith(
                    (".EEF", ".XML", ".HDR")
                ):
                    continue
                try:
                    rec = store.import_file(Path(out.path), actor=DEMO_OPERATOR, reason=f"candidate from {res.job_id}")
                except ViqError as err:
                    self.run.notes.append(f"{Path(out.path).name}: not imported: {err}")
                    continue
                self.run.gipps.append(self._evidence(rec.id, rec.gipp_type, rec.band, rec.file_name, res))
        return self.run.gipps

    def _evidence(self, gipp_id: int, gtype: str, band: str | None, name: str, res: StepResult) -> GippOutcome:
        store = self.host.gipps
        metric, lo, hi = EVIDENCE.get(gtype, ("", None, None))
        value = None
        if metric:
            keys = [k for k in res.measurements if k == metric or k.startswith(f"{metric}_")]
            if band:
                short = f"B{int(band[1:])}" if band[1:].isdigit() else band  # GIPP names B07, measurements B7
                keys = [k for k in keys if f"_{short}_" in f"{k}_"]
            if keys:
                value = res.measurements[keys[0]]
        if value is None:
            status = store.get(gipp_id).status.value
            return GippOutcome(gipp_id, gtype, band, name, metric or "-", None, None, status)
        passed = (lo is None or value >= lo) and (hi is None or value <= hi)
        store.attach_validation(
            gipp_id, metric=metric, value=value, actor=DEMO_OPERATOR, passed=passed,
            threshold=hi if hi is not None else lo, note=f"measured by job {res.job_id}",
        )
        if passed:
            store.promote(gipp_id, "TEST", operator=DEMO_OPERATOR, reason=f"{metric} = {value:.4g} within limits")
        status = store.get(gipp_id).status.value
        return GippOutcome(gipp_id, gtype, band, name, metric, value, passed, status)
