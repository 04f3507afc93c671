"""Plain Python API: simulate products in-process, without the host.

>>> from viq_proc_simulator import simulate
>>> run = simulate("/tmp/out", acquisition="flat", bands=("B4",), lines=128, pixels=64, levels=(50.0,))
>>> run.products[0].header.name
'VE_TEST_VSC_RAWDAT_SUDOUE_1_20180601_FLAT001.HDR'

Every check (parameters, instrument configuration, sites, files) happens before the first byte is written.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from viq_interfaces.errors import ConfigurationError
from viq_proc_simulator.engine import Acquisition, AcquisitionSpec, check_params
from viq_proc_simulator.params import SimulatorParameters
from viq_proc_simulator.products import WrittenGipp, WrittenProduct, write_acquisition, write_truth_gipps
from viq_proc_simulator.sites import get_site, load_sites
from viq_venus.config import (
    InstrumentConfig,
    default_config,
    describe_validation_error,
    load_instrument_config,
)

FLAT_SPACING = timedelta(seconds=100)
"""Sensing-time spacing of the products of one flat-field run (one per level)."""


@dataclass
class SimulationRun:
    """What :func:`simulate` wrote."""

    products: list[WrittenProduct] = field(default_factory=list)
    gipps: list[WrittenGipp] = field(default_factory=list)
    truths: list[Path] = field(default_factory=list)

    def truth(self, index: int = 0) -> dict[str, Any]:
        """The truth sidecar of acquisition ``index`` as a dict."""
        data: dict[str, Any] = json.loads(self.truths[index].read_text(encoding="utf-8"))
        return data

    def of_type(self, product_type: str) -> list[WrittenProduct]:
        """Products of one type code (e.g. ``VSC_RAWDAT``)."""
        return [p for p in self.products if p.product_type == product_type]


def resolve_config(params: SimulatorParameters, config: InstrumentConfig | None = None) -> InstrumentConfig:
    """The instrument of a run: ``config``, else the file named in the parameters, else defaults; altitude applied."""
    if config is None:
        config = load_instrument_config(params.instrument_config) if params.instrument_config else default_config()
    if params.altitude_km is not None or params.focal_homothety is not None:
        data = config.model_dump()
        if params.altitude_km is not None:
            data["orbit"] = {**data["orbit"], "altitude_km": params.altitude_km}
        if params.focal_homothety is not None:
            data["attitude"] = {**data["attitude"], "focal_homothety": params.focal_homothety}
        config = load_instrument_config(data)
    return config


def plan(params: SimulatorParameters, cfg: InstrumentConfig) -> list[AcquisitionSpec]:
    """The acquisitions of a run (one per flat level, one per campaign date × site, else one)."""
    check_params(params, cfg)
    site = get_site(params.site)
    if params.acquisition == "flat":
        return [
            AcquisitionSpec("flat", k + 1, site, params.sensing_time + k * FLAT_SPACING, params.seed * 1000 + k,
                            level=level)
            for k, level in enumerate(params.levels)
        ]
    if params.acquisition != "campaign":
        return [AcquisitionSpec(params.acquisition, 1, site, params.sensing_time, params.seed)]
    names = list(params.campaign_sites)
    for name in names:
        get_site(name, "campaign_sites")
    if not names:
        every = sorted(load_sites())
        step = max(1, len(every) // params.campaign_site_count)
        names = every[::step][: params.campaign_site_count]
    specs: list[AcquisitionSpec] = []
    kind = params.campaign_acquisition
    for d in range(params.campaign_dates):
        when = params.sensing_time + timedelta(days=d * params.campaign_interval_days)
        for s, name in enumerate(names):
            index = len(specs) + 1
            level = params.levels[(d + s) % len(params.levels)] if kind == "flat" and params.levels else None
            specs.append(AcquisitionSpec(kind, index, get_site(name), when + timedelta(seconds=s),
                                         params.seed * 100003 + index, level=level,
                                         scene_seed=params.campaign_scene_seed))
    return specs


def simulate(
    output_dir: str | Path,
    params: SimulatorParameters | None = None,
    *,
    config: InstrumentConfig | None = None,
    progress: Callable[[float, str], None] | None = None,
    **kwargs: Any,
) -> SimulationRun:
    """Simulate the products described by ``params`` (or keyword arguments) into ``output_dir``.

    Raises ConfigurationError naming the field for any inconsistency, before writing anything.
    """
    if params is None:
        try:
            params = SimulatorParameters(**kwargs)
        except ValidationError as err:
            raise ConfigurationError(describe_validation_error(err)) from err
    elif kwargs:
        params = params.model_copy(update=kwargs)
    cfg = resolve_config(params, config)
    acquisitions = [Acquisition(spec, params, cfg) for spec in plan(params, cfg)]
    out = Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    run = SimulationRun()
    n = len(acquisitions)
    for k, acq in enumerate(acquisitions):

        def sub(pct: float, msg: str, k: int = k) -> None:
            if progress is not None:
                progress((k + pct / 100.0) * 100.0 / n, msg)

        written = write_acquisition(acq, out, sub)
        run.products.extend(written)
        if written and written[0].truth is not None:
            run.truths.append(written[0].truth)
        if params.truth_gipps:
            run.gipps.extend(write_truth_gipps(acq, out / "gipps", acq.spec.index))
    return run
