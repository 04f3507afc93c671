"""Contract checks of one processor (``viq processors check NAME``), plugin or external.

Checks, in order (each ``pass``, ``fail``, ``warn`` or ``skip`` with a detail line):

``declaration``
    the declaration re-validates; ``Parameters`` is a pydantic model with ``extra="forbid"``, a default and a
    description for every field.
``task table``
    the exported Task Table is valid against ``schemas/task_table.xsd`` (external processors: also the
    executable their task table names is there and executable).
``refuses missing input (host)``
    a job order without a mandatory input port is refused by validation with exit code 134.
``refuses missing input (processor)``
    run directly, bypassing validation, without that port, the processor itself ends with 134 (skipped when
    another mandatory port would need a file and the processor provides no sample). An external executable
    reads its job order itself, so another outcome fails the check; a plugin processor is always behind the
    host's validation, so for it another outcome is a warning.
``outputs on sample``
    on its sample input the processor produces every declared output (count within min..max, readable files);
    a processor without a sample gets ``skip`` ("output check skipped: no sample"), which is listed but is not a
    failure of the check.
``log lines``
    every line the processor wrote during these runs is an ICD log line.

**Samples.** A processor provides a sample through an optional classmethod
``sample_inputs(tmp_dir: Path) -> dict[str, list[Path]]`` (files per input port; it may write them into
``tmp_dir``), and optionally ``sample_params() -> dict[str, Any]``. Task-table processors list theirs in
``List_of_Sample_Inputs``. The runs happen in-process in a temporary work directory; an external
executable is stopped after ``timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from pydantic import BaseModel, ValidationError

from viq_host.config import Settings
from viq_host.jobs import xsd
from viq_host.jobs.build import build_job_order
from viq_host.jobs.tasktable import task_table_xml
from viq_host.jobs.validate import validate_job_order
from viq_host.plugins import Plugins, load_plugins
from viq_host.service import check_outputs
from viq_interfaces import hookimpl
from viq_interfaces.context import InputProduct, RunContext
from viq_interfaces.declaration import ProcessorDeclaration
from viq_interfaces.errors import InvalidJobOrder, ViqError
from viq_interfaces.exitcodes import ExitCode, exit_code_for
from viq_interfaces.hookspecs import ProcessorRegistry
from viq_interfaces.icdlog import IcdLogger, parse_line
from viq_interfaces.processor import Processor
from viq_interfaces.result import ProcessorResult

__all__ = ["NO_SAMPLE", "CheckResult", "ConformanceReport", "check_processor"]

Status = Literal["pass", "fail", "warn", "skip"]
NO_SAMPLE = "output check skipped: no sample"


@dataclass(frozen=True)
class CheckResult:
    """One check of the report."""

    name: str
    status: Status
    detail: str


@dataclass(frozen=True)
class ConformanceReport:
    """Every check of one processor."""

    processor: str
    version: str
    checks: tuple[CheckResult, ...]

    @property
    def ok(self) -> bool:
        """No check failed (skips and warnings allowed)."""
        return all(c.status != "fail" for c in self.checks)

    def status(self, name: str) -> Status:
        """Status of the check called ``name``."""
        return next(c.status for c in self.checks if c.name == name)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "processor": self.processor,
            "version": self.version,
            "ok": self.ok,
            "checks": [{"name": c.name, "status": c.status, "detail": c.detail} for c in self.checks],
        }


class _One:
    """A plugin registering exactly one processor class."""

    def __init__(self, cls: type[Processor]) -> None:
        self.cls = cls
        self.__name__ = f"conformance:{cls.__qualname__}"

    @hookimpl
    def viq_add_processors(self, registry: ProcessorRegistry) -> None:
        registry.add(self.cls)


@dataclass
class _Runs:
    """Log lines captured from the direct runs."""

    lines: list[str] = field(default_factory=list)
    runs: int = 0


def _declaration(cls: type[Processor]) -> CheckResult:
    try:
        decl = cls.declaration
        ProcessorDeclaration.model_validate(decl.model_dump())
        params = cls.Parameters
        if not (isinstance(params, type) and issubclass(params, BaseModel)):
            return CheckResult("declaration", "fail", "Parameters is not a pydantic model")
        if params.model_config.get("extra") != "forbid":
            return CheckResult("declaration", "fail", 'Parameters must set extra="forbid"')
        missing = [n for n, f in params.model_fields.items() if f.is_required()]
        if missing:
            return CheckResult("declaration", "fail", f"parameters without a default: {', '.join(missing)}")
        undocumented = [n for n, f in params.model_fields.items() if not (f.description or "").strip()]
        if undocumented:
            return CheckResult("declaration", "fail", f"parameters without a description: {', '.join(undocumented)}")
        params()
    except (AttributeError, TypeError, ValidationError) as err:
        return CheckResult("declaration", "fail", f"invalid: {err}")
    n_in, n_out, n_par = len(decl.inputs), len(decl.outputs), len(cls.Parameters.model_fields)
    return CheckResult("declaration", "pass", f"{n_in} input(s), {n_out} output(s), {n_par} parameter(s)")


def _task_table(cls: type[Processor]) -> CheckResult:
    try:
        data = task_table_xml(cls)
        tree = etree.ElementTree(etree.fromstring(data))
    except (ViqError, etree.XMLSyntaxError, ValueError) as err:
        return CheckResult("task table", "fail", f"cannot export: {err}")
    issues = xsd.issues(tree, xsd.TASK_TABLE_XSD)
    if issues:
        return CheckResult("task table", "fail", f"export breaks task_table.xsd: {issues[0].describe()}")
    detail = f"exported, valid against {xsd.TASK_TABLE_XSD} ({len(data)} bytes)"
    table = getattr(cls, "task_table", None)
    if table is not None:
        from viq_host.external.adapter import resolve_executable

        try:
            detail += f"; executable {resolve_executable(table)}"
        except ViqError as err:
            return CheckResult("task table", "fail", str(err))
    return CheckResult("task table", "pass", detail)


def _settings(root: Path) -> Settings:
    return Settings(home=root / "home", data_roots=[root, Path("/")], task_table_dirs=[])


def _sample(cls: type[Processor], root: Path) -> tuple[dict[str, list[Path]] | None, dict[str, Any], str]:
    make: Callable[[Path], Mapping[str, Any]] | None = getattr(cls, "sample_inputs", None)
    if make is None:
        return None, {}, ""
    sample_dir = root / "sample"
    sample_dir.mkdir(parents=True, exist_ok=True)
    try:
        given = make(sample_dir)
        params_of: Callable[[], Mapping[str, Any]] | None = getattr(cls, "sample_params", None)
        params = dict(params_of()) if params_of is not None else {}
    except Exception as err:  # a processor's own sample code must not take the check down
        return None, {}, f"sample_inputs failed: {type(err).__name__}: {err}"
    if not given:
        return None, {}, ""
    return {port: [Path(p) for p in paths] for port, paths in given.items()}, params, ""


def _refusal_host(cls: type[Processor], plugins: Plugins, root: Path) -> tuple[CheckResult, str | None]:
    decl = cls.declaration
    mandatory = [p for p in decl.inputs if p.mandatory]
    if not mandatory:
        return CheckResult("refuses missing input (host)", "skip", "no mandatory input port"), None
    port = mandatory[0]
    inputs = {p.name: [root / f"absent_{p.product_types[0]}.dat"] * p.min_count for p in mandatory[1:]}
    order = build_job_order(decl, inputs=inputs)
    try:
        validate_job_order(order, plugins, _settings(root))
    except InvalidJobOrder as err:
        if err.exit_code == ExitCode.MISSING_INPUT:
            return CheckResult("refuses missing input (host)", "pass", f"134: {err.message}"), port.name
        return CheckResult("refuses missing input (host)", "fail", f"exit code {err.exit_code}, not 134: {err}"), None
    return CheckResult("refuses missing input (host)", "fail", f"accepted an order without {port.name!r}"), None


def _context(
    cls: type[Processor], root: Path, name: str, inputs: Mapping[str, tuple[InputProduct, ...]], params: BaseModel,
    stream: io.StringIO, deadline: float,
) -> RunContext[BaseModel]:
    decl = cls.declaration
    work_dir = root / name
    output_dir = work_dir / "out"
    output_dir.mkdir(parents=True, exist_ok=True)
    return RunContext(
        job_id="conformance",
        attempt_id=name,
        processor=decl.name,
        version=decl.version,
        inputs=inputs,
        params=params,
        gipps={},
        work_dir=work_dir,
        output_dir=output_dir,
        logger=IcdLogger(decl.name, decl.version, decl.task_name or decl.name, stream),
        is_cancelled=lambda: time.monotonic() > deadline,
    )


def _run(
    cls: type[Processor], ctx: RunContext[BaseModel], stream: io.StringIO, runs: _Runs
) -> tuple[ProcessorResult | None, BaseException | None]:
    printed = io.StringIO()
    result: ProcessorResult | None = None
    error: BaseException | None = None
    try:
        import rasterio

        with contextlib.redirect_stdout(printed), rasterio.Env():
            result = cls().run(ctx)
    except Exception as exc:  # every outcome of the run is data for the report
        error = exc
    runs.runs += 1
    runs.lines += stream.getvalue().splitlines() + printed.getvalue().splitlines()
    external = ctx.work_dir / "external.log"
    if external.is_file():
        runs.lines += external.read_text(encoding="utf-8", errors="replace").splitlines()
    return result, error


def _refusal_processor(
    cls: type[Processor], port: str | None, sample: dict[str, list[Path]] | None, root: Path, runs: _Runs,
    timeout: float,
) -> CheckResult:
    name = "refuses missing input (processor)"
    if port is None:
        return CheckResult(name, "skip", "no mandatory input refused by the host")
    decl = cls.declaration
    others = [p for p in decl.inputs if p.mandatory and p.name != port]
    if others and sample is None:
        return CheckResult(name, "skip", "other mandatory inputs need files and the processor has no sample")
    inputs = {
        k: tuple(InputProduct(path=p, product_type=decl.input(k).product_types[0]) for p in v)
        for k, v in (sample or {}).items()
        if k != port
    }
    stream = io.StringIO()
    ctx = _context(cls, root, "refusal", inputs, cls.Parameters(), stream, time.monotonic() + timeout)
    result, error = _run(cls, ctx, stream, runs)
    if error is None:
        n = len(result.outputs) if result else 0
        return CheckResult(name, "fail", f"ran to the end without input {port!r} ({n} output(s))")
    code = int(exit_code_for(error))
    if code == ExitCode.MISSING_INPUT:
        return CheckResult(name, "pass", f"134: {error}")
    detail = f"ended with {code}, not 134: {type(error).__name__}: {error}"
    if getattr(cls, "task_table", None) is None:
        # a plugin processor never sees such an order (the host refuses it first): a warning, not a failure
        return CheckResult(name, "warn", f"{detail} (raise MissingInputError, e.g. through ctx.one)")
    return CheckResult(name, "fail", detail)


def _outputs(
    cls: type[Processor], sample: dict[str, list[Path]] | None, params: dict[str, Any], plugins: Plugins, root: Path,
    runs: _Runs, timeout: float, why_no_sample: str,
) -> CheckResult:
    name = "outputs on sample"
    if sample is None:
        return CheckResult(name, "fail" if why_no_sample else "skip", why_no_sample or NO_SAMPLE)
    decl = cls.declaration
    order = build_job_order(decl, inputs=sample, params=params)
    try:
        job = validate_job_order(order, plugins, _settings(root))
    except InvalidJobOrder as err:
        return CheckResult(name, "fail", f"the sample's job order is refused: {err.describe()}")
    stream = io.StringIO()
    ctx = _context(cls, root, "sample", job.inputs, job.params, stream, time.monotonic() + timeout)
    result, error = _run(cls, ctx, stream, runs)
    if error is not None or result is None:
        code = int(exit_code_for(error)) if error is not None else int(ExitCode.INTERNAL_ERROR)
        return CheckResult(name, "fail", f"failed on its sample ({code}): {type(error).__name__}: {error}")
    problems = check_outputs(decl, result, ctx.output_dir)
    if problems:
        return CheckResult(name, "fail", "; ".join(problems))
    ports = sorted({o.port for o in result.outputs})
    return CheckResult(name, "pass", f"{len(result.outputs)} file(s) for {', '.join(ports) or 'no port'}")


def _log_lines(runs: _Runs) -> CheckResult:
    name = "log lines"
    if runs.runs == 0:
        return CheckResult(name, "skip", "the processor was not run")
    lines = [line for line in runs.lines if line.strip()]
    bad = [line for line in lines if parse_line(line) is None]
    if bad:
        return CheckResult(name, "fail", f"{len(bad)} of {len(lines)} line(s) are not ICD log lines, e.g. {bad[0]!r}")
    if not lines:
        return CheckResult(name, "warn", "no log line written")
    return CheckResult(name, "pass", f"{len(lines)} ICD line(s) parse")


def check_processor(
    cls: type[Processor], work_root: Path, *, run: bool = True, timeout: float = 120.0
) -> ConformanceReport:
    """Run every contract check on ``cls`` in ``work_root`` (see the module docstring); ``run=False`` skips runs."""
    work_root.mkdir(parents=True, exist_ok=True)
    checks = [_declaration(cls)]
    if checks[0].status == "fail":
        decl_name = getattr(getattr(cls, "declaration", None), "name", cls.__name__)
        return ConformanceReport(str(decl_name), "?", tuple(checks))
    decl = cls.declaration
    checks.append(_task_table(cls))
    plugins = load_plugins([_One(cls)], entry_points_enabled=False)
    refusal, port = _refusal_host(cls, plugins, work_root)
    checks.append(refusal)
    runs = _Runs()
    if run:
        sample, params, why = _sample(cls, work_root)
        checks.append(_refusal_processor(cls, port, sample, work_root, runs, timeout))
        checks.append(_outputs(cls, sample, params, plugins, work_root, runs, timeout, why))
    else:
        checks.append(CheckResult("refuses missing input (processor)", "skip", "runs disabled (--no-run)"))
        checks.append(CheckResult("outputs on sample", "skip", "runs disabled (--no-run)"))
    checks.append(_log_lines(runs))
    return ConformanceReport(decl.name, decl.version, tuple(checks))


def report_json(reports: list[ConformanceReport]) -> str:
    """Reports as a JSON array."""
    return json.dumps([r.to_dict() for r in reports], indent=2)
