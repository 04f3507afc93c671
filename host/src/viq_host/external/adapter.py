"""The adapter that runs an external executable as a VIQ processor.

:func:`processor_class` turns a :class:`~viq_host.external.tasktable.TaskTable` into a
:class:`~viq_interfaces.Processor` subclass registered like any plugin processor. The worker (``viq-task``,
locally or on Grid Engine through DRMAA) validates the job order as usual and calls ``run(ctx)``, which

1. writes the job order in the task table's dialect (``Job_Order`` or ``Ipf_Job_Order``) in the work directory,
   with every parameter value in force and absolute paths;
2. runs the executable with that job order's path as its single argument, in the work directory, in the
   worker's process group (a walltime kill or a cancel of the attempt reaches it);
3. relays its standard output and error line by line: ICD log lines (``… [I] message``, levels D/I/P/W/E)
   become lines of the job log at their level, ``[P]`` lines progress; any other line is kept raw
   (``[raw] …``, level I) and counted; everything is also copied to ``external.log``;
4. maps the exit code: 0 ok, 1–127 done with a warning, 128–255 failed with that code (documented ICD codes
   are kept, others become 148), a signal 152; a cancel or a walltime kill ends the executable (SIGTERM, then
   SIGKILL) and the run as cancelled (the host records 151 for walltime);
5. collects the files of each output port by its ``File_Name_Pattern`` in the output directory; a port with
   fewer files than its ``Min_Count`` fails the run with 149.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, ClassVar, cast

from pydantic import BaseModel

from viq_host.external.joborders import order_for_run, write_ipf_job_order
from viq_host.external.tasktable import TaskTable
from viq_host.jobs.eegs import write_job_order
from viq_interfaces.context import ProcessorLogger, RunContext
from viq_interfaces.errors import Cancelled, ConfigurationError, ExternalProcessError
from viq_interfaces.exitcodes import ExitCode
from viq_interfaces.icdlog import parse_line
from viq_interfaces.processor import Processor
from viq_interfaces.result import OutputProduct, ProcessorResult, RunStatus

__all__ = ["EEGS_ORDER_FILE", "MMFI_ORDER_FILE", "RAW_LOG_FILE", "ExternalProcessor", "processor_class"]

EEGS_ORDER_FILE = "JobOrder.external.xml"
MMFI_ORDER_FILE = "Ipf_Job_Order.xml"
RAW_LOG_FILE = "external.log"
TERM_GRACE_SECONDS = 5.0
_PERCENT = re.compile(r"^\s*(?P<pct>\d+(?:\.\d+)?)\s*%?\s*(?P<rest>.*)$")


@dataclass
class LogRelay:
    """Relays an executable's output lines to a ProcessorLogger; counts ICD and raw lines."""

    logger: ProcessorLogger
    raw_log: IO[bytes]
    icd_lines: int = 0
    raw_lines: int = 0
    last_error: str = ""

    def line(self, raw: bytes) -> None:
        """Relay one line (with or without its newline)."""
        self.raw_log.write(raw if raw.endswith(b"\n") else raw + b"\n")
        text = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not text.strip():
            return
        parsed = parse_line(text)
        if parsed is None:
            self.raw_lines += 1
            self.logger.info(f"[raw] {text}")
            return
        self.icd_lines += 1
        if parsed.level == "D":
            self.logger.debug(parsed.message)
        elif parsed.level == "I":
            self.logger.info(parsed.message)
        elif parsed.level == "W":
            self.logger.warning(parsed.message)
        elif parsed.level == "E":
            self.last_error = parsed.message
            self.logger.error(parsed.message)
        else:
            m = _PERCENT.match(parsed.message)
            if m is None:
                self.logger.info(parsed.message)
            else:
                self.logger.progress(float(m["pct"]), m["rest"])

    def pump(self, stream: IO[bytes]) -> None:
        """Relay every line of ``stream`` until it ends."""
        for raw in iter(stream.readline, b""):
            self.line(raw)
        self.raw_log.flush()


def resolve_executable(table: TaskTable) -> Path:
    """The executable's path; ConfigurationError (160) when it is missing or not executable."""
    where = f"(Executable of task table {table.path})"
    expected = table.executable_path()
    if expected is None:
        found = shutil.which(table.executable)
        if found is None:
            raise ConfigurationError(f"executable {table.executable!r} is not on PATH {where}")
        return Path(found)
    if not expected.exists():
        raise ConfigurationError(f"executable {expected} does not exist {where}")
    if not expected.is_file():
        raise ConfigurationError(f"executable {expected} is not a file {where}")
    if not os.access(expected, os.X_OK):
        raise ConfigurationError(f"executable {expected} is not executable (no x permission) {where}")
    return expected


def _meaning(code: int) -> str:
    try:
        return ExitCode(code).name.lower().replace("_", " ")
    except ValueError:
        return "undocumented code"


def collect_outputs(table: TaskTable, output_dir: Path) -> tuple[list[OutputProduct], list[str]]:
    """Files of each output port by its pattern (a file goes to the first port matching it); problems found."""
    taken: set[Path] = set()
    products: list[OutputProduct] = []
    problems: list[str] = []
    for port in table.declaration.outputs:
        files = sorted(p for p in output_dir.glob(port.file_name_pattern) if p.is_file() and p not in taken)
        taken.update(files)
        if len(files) < port.min_count:
            problems.append(
                f"output port {port.name!r} ({port.product_type}): {len(files)} file(s) match "
                f"{port.file_name_pattern!r} in {output_dir}, at least {port.min_count} needed"
            )
        products += [
            OutputProduct(port=port.name, path=f.relative_to(output_dir), product_type=port.product_type)
            for f in files
        ]
    return products, problems


class ExternalProcessor(Processor):
    """Base of the classes made by :func:`processor_class`; see the module docstring for what ``run`` does."""

    task_table: ClassVar[TaskTable]

    @classmethod
    def sample_inputs(cls, tmp_dir: Path) -> dict[str, list[Path]]:
        """The sample inputs listed in the task table (empty when it lists none)."""
        return {port: list(paths) for port, paths in cls.task_table.samples.items()}

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        """Write the job order, run the executable, relay its log, map its exit code, collect its outputs."""
        table = self.task_table
        exe = resolve_executable(table)
        sensing = (ctx.sensing_start, ctx.sensing_stop) if ctx.sensing_start and ctx.sensing_stop else None
        site = ctx.extra.get("site")
        order = order_for_run(
            table.declaration, params=ctx.params, inputs=ctx.inputs, gipps=ctx.gipps, output_dir=ctx.output_dir,
            sensing=sensing, site=site if isinstance(site, str) else None,
        )
        ctx.output_dir.mkdir(parents=True, exist_ok=True)
        if table.dialect == "Ipf_Job_Order":
            order_path = ctx.work_dir / MMFI_ORDER_FILE
            write_ipf_job_order(order, order_path)
        else:
            order_path = ctx.work_dir / EEGS_ORDER_FILE
            write_job_order(order, order_path)
        ctx.logger.info(f"running {exe} {order_path.name} ({table.dialect})")
        code, relay, cancelled = self._execute(exe, order_path, ctx)
        if cancelled:
            raise Cancelled(f"{exe.name} stopped: the attempt was cancelled or exceeded its walltime")
        if code < 0:
            try:
                name = signal.Signals(-code).name
            except ValueError:
                name = f"signal {-code}"
            raise ExternalProcessError(f"{exe.name} was killed by {name}", exit_code=int(ExitCode.KILLED))
        if code >= 128:
            detail = f": {relay.last_error}" if relay.last_error else ""
            raise ExternalProcessError(f"{exe.name} exited with code {code} ({_meaning(code)}){detail}", exit_code=code)
        outputs, problems = collect_outputs(table, ctx.output_dir)
        lines = f"{relay.icd_lines} ICD log line(s)"
        if relay.raw_lines:
            lines += f", {relay.raw_lines} other line(s) kept raw"
        if not relay.icd_lines:
            ctx.logger.info(f"{exe.name} wrote no ICD log line")
        if problems:
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            raise ExternalProcessError(
                f"{exe.name} exited with code {code} but {problems[0]}{more}", exit_code=int(ExitCode.MISSING_OUTPUT)
            )
        warnings: tuple[str, ...] = ()
        if code:
            warnings = (f"{exe.name} exited with code {code} (done with warnings)",)
        return ProcessorResult(
            outputs=tuple(outputs),
            status=RunStatus.WARNING if code else RunStatus.OK,
            warnings=warnings,
            summary=f"{exe.name} exited with code {code}; {len(outputs)} output file(s); {lines}",
        )

    def _execute(self, exe: Path, order_path: Path, ctx: RunContext[BaseModel]) -> tuple[int, LogRelay, bool]:
        with (ctx.work_dir / RAW_LOG_FILE).open("ab") as raw_log:
            relay = LogRelay(ctx.logger, raw_log)
            try:
                proc = subprocess.Popen(
                    [str(exe), str(order_path)],
                    cwd=ctx.work_dir,
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    close_fds=True,
                )
            except OSError as err:
                raise ConfigurationError(f"cannot start {exe}: {err.strerror or err}") from err
            assert proc.stdout is not None
            reader = threading.Thread(target=relay.pump, args=(proc.stdout,), daemon=True)
            reader.start()
            cancelled = False
            term_at: float | None = None
            while True:
                try:
                    code = proc.wait(timeout=0.1)
                    break
                except subprocess.TimeoutExpired:
                    pass
                if term_at is None and ctx.is_cancelled():
                    cancelled = True
                    term_at = time.monotonic()
                    with contextlib.suppress(ProcessLookupError):
                        proc.terminate()
                elif term_at is not None and time.monotonic() - term_at > TERM_GRACE_SECONDS:
                    with contextlib.suppress(ProcessLookupError):
                        proc.kill()
            reader.join(timeout=10)
            proc.stdout.close()
        return code, relay, cancelled or ctx.is_cancelled()


def processor_class(table: TaskTable) -> type[ExternalProcessor]:
    """A Processor class for ``table`` (declaration and Parameters from the task table)."""
    decl = table.declaration
    name = "External_" + re.sub(r"\W", "_", decl.name) + "_" + decl.version.replace(".", "_")
    namespace: dict[str, Any] = {
        "declaration": decl,
        "Parameters": table.parameters,
        "task_table": table,
        "__module__": __name__,
        "__doc__": f"External processor {decl.key} declared by {table.path} (executable {table.executable}).",
    }
    return cast(type[ExternalProcessor], type(name, (ExternalProcessor,), namespace))
