"""Run one processor through the real host (job service + local executor + ``viq-task`` subprocess).

``run_processor(MyProcessor, inputs={"image": [tif]}, params={"window": 9}, tmp_path=tmp_path)`` writes an
EEGS job order, submits it to a :class:`~viq_host.service.JobService` over an isolated ``VIQ_HOME`` inside
``tmp_path`` and runs it to the end. The processor class is handed to the worker subprocess through
``VIQ_EXTRA_PLUGINS`` (its module must be importable from a file: the module's root directory is put on
``PYTHONPATH``), so processors defined in a test module run exactly as installed ones do.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from viq_host.config import Settings, load_settings
from viq_host.jobs.store import AttemptRecord, JobState, LogEvent, Transition
from viq_host.plugins import EXTRA_PLUGINS_ENV, Plugins, extra_plugins_from_env
from viq_host.service import STDOUT_FILE, Ingest, JobService, ProgressEvent, quiet_plugins
from viq_host.testing.factories import PathLike, make_job_order
from viq_interfaces.errors import RegistryError
from viq_interfaces.processor import Processor
from viq_interfaces.result import OutputProduct, ProcessorResult


@dataclass(frozen=True)
class Outcome:
    """What one harness run produced."""

    job_id: str
    state: JobState
    exit_code: int | None
    reason: str
    result: ProcessorResult | None
    attempts: tuple[AttemptRecord, ...]
    transitions: tuple[Transition, ...]
    """Job transitions then, per attempt, its transitions (each in order)."""
    events: tuple[LogEvent, ...]
    """ICD events (I/P/W/E) of every attempt, in order."""
    log: str
    """``stdout.log`` of the last attempt (ICD lines and anything else the processor printed)."""
    work_dir: Path | None
    progress: tuple[ProgressEvent, ...] = field(default=())
    """Events the service reported while running (states, progress, log lines)."""

    @property
    def outputs(self) -> tuple[OutputProduct, ...]:
        """Output products, paths absolute."""
        return self.result.outputs if self.result else ()

    @property
    def measurements(self) -> dict[str, float]:
        """Measurements as ``Measurement.key → value``."""
        return {m.key: m.value for m in (self.result.measurements if self.result else ())}

    def output_paths(self, port: str) -> list[Path]:
        """Paths of the outputs of ``port``."""
        return [o.path for o in self.outputs if o.port == port]

    def assert_success(self, *, allow_warning: bool = False) -> Outcome:
        """Fail the test with the reason and the log tail unless the job SUCCEEDED (or WARNING if allowed)."""
        ok = {JobState.SUCCEEDED} | ({JobState.WARNING} if allow_warning else set())
        if self.state not in ok:
            tail = "\n".join(self.log.splitlines()[-30:])
            raise AssertionError(
                f"job {self.job_id} ended {self.state} (exit {self.exit_code}): {self.reason}\n"
                f"--- stdout.log tail ---\n{tail}"
            )
        return self


def module_root(module_name: str) -> Path | None:
    """Directory to put on ``sys.path`` so that ``module_name`` imports as it does here (None if unknown)."""
    module = sys.modules.get(module_name)
    file = getattr(module, "__file__", None)
    if not file:
        return None
    depth = len(module_name.split("."))
    if Path(file).name == "__init__.py":
        depth += 1
    return Path(file).resolve().parents[depth - 1]


def harness_settings(tmp_path: Path, **overrides: Any) -> Settings:
    """Settings of an isolated installation under ``tmp_path/viq-home``; ``tmp_path`` is a data root."""
    home = tmp_path / "viq-home"
    roots = overrides.pop("data_roots", None) or [tmp_path, home / "data", home / "work"]
    settings = load_settings(home=home, data_roots=roots, executor="local", **overrides)
    settings.ensure_dirs()
    return settings


def processor_env(processor: type[Processor]) -> dict[str, str]:
    """Environment making ``processor`` loadable by a worker subprocess (``VIQ_EXTRA_PLUGINS``, ``PYTHONPATH``)."""
    spec = f"{processor.__module__}:{processor.__qualname__}"
    existing = os.environ.get(EXTRA_PLUGINS_ENV, "")
    env = {EXTRA_PLUGINS_ENV: ",".join(x for x in (existing, spec) if x)}
    root = module_root(processor.__module__)
    if root is not None:
        paths = [str(root), *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


def run_processor(
    processor: type[Processor] | str,
    inputs: Mapping[str, Sequence[PathLike]] | None = None,
    params: Mapping[str, Any] | None = None,
    tmp_path: Path | None = None,
    *,
    version: str | None = None,
    settings: Settings | None = None,
    ingest: Ingest | None = None,
    timeout: float = 300.0,
) -> Outcome:
    """Run ``processor`` (a class, or the name of an installed one) through the real host; see the module doc."""
    if tmp_path is None and settings is None:
        raise ValueError("run_processor needs tmp_path (or settings)")
    if settings is None:
        assert tmp_path is not None
        settings = harness_settings(tmp_path)
    env: dict[str, str] = {}
    if isinstance(processor, str):
        plugins: Plugins = quiet_plugins()
        cls = plugins.processors.get(processor, version)
    else:
        cls = processor
        env = processor_env(cls)
        plugins = quiet_plugins(extra_plugins_from_env(f"{cls.__module__}:{cls.__qualname__}"))
        if version is not None and cls.declaration.version != version:
            raise RegistryError(f"{cls.__qualname__} is version {cls.declaration.version}, not {version}")
    orders = settings.home / "orders"
    order_path = make_job_order(
        cls, orders / f"{cls.declaration.name}-{len(list(orders.glob('*.xml'))) + 1}.xml", inputs=inputs, params=params
    )
    seen: list[ProgressEvent] = []
    with JobService(settings, plugins=plugins, ingest=ingest, extra_env=env, poll_seconds=0.1) as service:
        job_id = service.submit(order_path)
        service.run_until_done([job_id], progress=seen.append, timeout=timeout)
        status = service.status(job_id)
        store = service.jobs
        transitions = list(store.transitions(job_id))
        events: list[LogEvent] = []
        for attempt in status.attempts:
            transitions += store.transitions(attempt.id)
            events += store.events(attempt.id)
    last = status.last_attempt
    work_dir = Path(last.work_dir) if last else None
    log = ""
    if work_dir is not None and (work_dir / STDOUT_FILE).is_file():
        log = (work_dir / STDOUT_FILE).read_text(encoding="utf-8", errors="replace")
    return Outcome(
        job_id=job_id,
        state=status.job.state,
        exit_code=status.job.exit_code,
        reason=status.job.reason,
        result=status.result,
        attempts=status.attempts,
        transitions=tuple(transitions),
        events=tuple(events),
        log=log,
        work_dir=work_dir,
        progress=tuple(seen),
    )
