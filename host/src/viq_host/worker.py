"""The worker entry point ``viq-task <job order>``: runs one processor for one attempt.

It reads the job order, loads the plugins, validates the order against the processor's declaration,
builds the frozen :class:`~viq_interfaces.RunContext`, runs the processor inside ``rasterio.Env()`` and
writes ``result.json`` next to the job order (the attempt's work directory). ICD log lines go to stdout.
The exit code comes from :func:`viq_interfaces.exitcodes.exit_code_for`: 0 ok, 1 warning, 2 skipped,
128–255 failure (255 = internal error, with the traceback in the log).

Cancellation: the run context reports cancelled once a ``CANCEL`` file exists in the work directory or
the process received SIGTERM (the local executor's first signal on cancel or walltime).

Identity and settings come from the host: ``VIQ_JOB_ID`` / ``VIQ_ATTEMPT_ID`` (else the work-dir names
``<job>/<attempt>``) and ``settings.json`` in the work directory (else the usual settings sources).
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sys
import time
import traceback
import warnings
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

from viq_host.config import Settings, load_settings
from viq_host.jobs.model import JobOrder
from viq_host.jobs.validate import validate_job_order
from viq_host.plugins import Plugins, PluginWarning, extra_plugins_from_env, load_plugins
from viq_interfaces.context import RunContext
from viq_interfaces.errors import InvalidJobOrder, ProcessingError, RegistryError
from viq_interfaces.exitcodes import ExitCode, exit_code_for
from viq_interfaces.icdlog import IcdLogger
from viq_interfaces.result import ProcessorResult, RunStatus

RESULT_FILE = "result.json"
DIGEST_SUFFIX = ".sha256"
"""``JobOrder.xml.sha256``: SHA-256 of the order as the host wrote it after validating it."""
CANCEL_FILE = "CANCEL"
SETTINGS_FILE = "settings.json"
OUTPUT_SUBDIR = "out"


_LEVEL_NAMES = {"DEBUG": "D", "INFO": "I", "PROGRESS": "P", "WARNING": "W", "ERROR": "E"}


class LevelFilter:
    """A ProcessorLogger passing on only the ICD levels the job order asks for (List_of_Stdout_Log_Levels)."""

    def __init__(self, inner: IcdLogger, levels: tuple[str, ...]) -> None:
        self._inner = inner
        wanted = {_LEVEL_NAMES.get(level.upper(), "") for level in levels}
        self._levels = wanted or set(_LEVEL_NAMES.values())

    def debug(self, message: str) -> None:
        """Level D."""
        if "D" in self._levels:
            self._inner.debug(message)

    def info(self, message: str) -> None:
        """Level I."""
        if "I" in self._levels:
            self._inner.info(message)

    def progress(self, percent: float, message: str = "") -> None:
        """Level P."""
        if "P" in self._levels:
            self._inner.progress(percent, message)

    def warning(self, message: str) -> None:
        """Level W."""
        if "W" in self._levels:
            self._inner.warning(message)

    def error(self, message: str) -> None:
        """Level E (always written: errors are never filtered out)."""
        self._inner.error(message)


@dataclass
class _CancelFlag:
    """Set by SIGTERM; checked together with the ``CANCEL`` file."""

    work_dir: Path
    signalled: bool = False
    _file: Path = field(init=False)

    def __post_init__(self) -> None:
        self._file = self.work_dir / CANCEL_FILE

    def handler(self, signum: int, frame: FrameType | None) -> None:
        self.signalled = True

    def __call__(self) -> bool:
        return self.signalled or self._file.exists()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def worker_settings(work_dir: Path) -> Settings:
    """The host's settings for this attempt (``settings.json``), or the usual sources."""
    path = work_dir / SETTINGS_FILE
    if path.is_file():
        return Settings(**json.loads(path.read_text(encoding="utf-8")))
    return load_settings()


def output_dir_for(order: JobOrder, work_dir: Path) -> Path:
    """Where the processor writes: the first output's directory (relative to the work dir), else ``out/``."""
    if order.outputs:
        directory = Path(order.outputs[0].directory)
        return directory if directory.is_absolute() else work_dir / directory
    return work_dir / OUTPUT_SUBDIR


def exit_code_of_result(result: ProcessorResult) -> ExitCode:
    """0 for ok, 1 for a warning (status or warnings listed), 2 for skipped."""
    if result.status is RunStatus.SKIPPED:
        return ExitCode.SKIPPED
    if result.status is RunStatus.WARNING or result.warnings:
        return ExitCode.WARNING
    return ExitCode.OK


def write_result(work_dir: Path, payload: dict[str, Any]) -> None:
    """Write ``result.json`` atomically (a temporary file, then a rename)."""
    tmp = work_dir / f".{RESULT_FILE}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    os.replace(tmp, work_dir / RESULT_FILE)


def order_digest(data: bytes) -> str:
    """Hex SHA-256 of job-order bytes (what the host records next to the order it wrote)."""
    return hashlib.sha256(data).hexdigest()


def load_order(path: Path, settings: Settings) -> JobOrder:
    """Read the attempt's job order.

    When the host recorded the digest of this exact file (``<order>.sha256``), it has already passed every
    layer in the host, so only the hardened parse and the EEGS mapping run here; the XSD layer (compiling
    the schema is most of a worker's start-up) is skipped. Any other file goes through the full reader.
    The declaration and file-system layers always run again (:func:`validate_job_order`).
    """
    from viq_host.jobs import eegs
    from viq_host.jobs.xmlsafe import parse_xml_bytes, read_limited

    data = read_limited(path, settings.max_job_order_bytes)
    sidecar = path.with_name(path.name + DIGEST_SUFFIX)
    try:
        recorded = sidecar.read_text(encoding="ascii").strip()
    except OSError:
        recorded = ""
    if recorded and recorded == order_digest(data):
        tree = parse_xml_bytes(data, str(path), max_bytes=settings.max_job_order_bytes)
        if tree.getroot().tag == eegs.ROOT:
            return eegs.order_from_tree(tree, path)
    from viq_host.jobs.reader import read_job_order

    return read_job_order(path, max_bytes=settings.max_job_order_bytes)


def worker_plugins(order: JobOrder, logger: IcdLogger | LevelFilter) -> Plugins:
    """The registries the run needs; plugin warnings become D lines.

    When ``VIQ_EXTRA_PLUGINS`` already provides the ordered processor, installed entry points are not
    imported at all (the host validated the order against the full registry before submitting it).
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", PluginWarning)
        extras = extra_plugins_from_env()
        plugins: Plugins | None = None
        if extras:
            plugins = load_plugins(extras, entry_points_enabled=False)
            try:
                plugins.processors.get(order.processor, order.version)
            except RegistryError:
                plugins = None
        if plugins is None:
            plugins = load_plugins(extras)
    for caught_warning in caught:
        logger.debug(str(caught_warning.message))
    return plugins


def run_task(job_order: Path) -> int:
    """Run the attempt described by ``job_order``; return the exit code (never raises)."""
    t0 = time.perf_counter()
    started = _now()
    job_order = job_order.absolute()
    work_dir = job_order.parent
    cancel = _CancelFlag(work_dir)
    signal.signal(signal.SIGTERM, cancel.handler)
    job_id = os.environ.get("VIQ_JOB_ID") or work_dir.parent.name
    attempt_id = os.environ.get("VIQ_ATTEMPT_ID") or work_dir.name
    logger: IcdLogger | LevelFilter = IcdLogger("viq-task", "00.00", "viq-task")
    payload: dict[str, Any] = {
        "job_id": job_id,
        "attempt_id": attempt_id,
        "processor": None,
        "version": None,
        "pid": os.getpid(),
        "result": None,
        "error": None,
    }
    timing: dict[str, float] = {}
    code: int
    try:
        settings = worker_settings(work_dir)
        order = load_order(job_order, settings)
        payload["processor"], payload["version"] = order.processor, order.version
        logger = LevelFilter(IcdLogger(order.processor, order.version, order.task or order.processor), order.log_levels)
        plugins = worker_plugins(order, logger)
        job = validate_job_order(order, plugins, settings)
        for warning in job.warnings:
            logger.warning(str(warning))
        output_dir = output_dir_for(order, work_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        ctx: RunContext[Any] = RunContext(
            job_id=job_id,
            attempt_id=attempt_id,
            processor=job.declaration.name,
            version=job.declaration.version,
            inputs=job.inputs,
            params=job.params,
            gipps=job.gipps,
            work_dir=work_dir,
            output_dir=output_dir,
            logger=logger,
            is_cancelled=cancel,
            sensing_start=order.sensing_start,
            sensing_stop=order.sensing_stop,
            extra={"site": order.site} if order.site else {},
        )
        processor = job.processor()
        timing["setup_s"] = time.perf_counter() - t0
        logger.info(f"job {job_id} attempt {attempt_id}: running {job.declaration.key}")
        import rasterio

        t_run = time.perf_counter()
        with rasterio.Env():
            result = processor.run(ctx)
        timing["run_s"] = time.perf_counter() - t_run
        if not isinstance(result, ProcessorResult):
            raise ProcessingError(f"run() returned {type(result).__name__}, not a ProcessorResult")
        payload["result"] = json.loads(result.model_dump_json())
        code = int(exit_code_of_result(result))
        if result.summary:
            logger.info(result.summary)
        for text in result.warnings:
            logger.warning(text)
    except BaseException as exc:  # the worker's one boundary: every outcome becomes an exit code
        code = int(exit_code_for(exc)) if not isinstance(exc, KeyboardInterrupt) else int(ExitCode.CANCELLED)
        message = exc.describe() if isinstance(exc, InvalidJobOrder) else str(exc)
        payload["error"] = {"type": type(exc).__name__, "message": message}
        logger.error(f"{type(exc).__name__}: {message}" if code == ExitCode.INTERNAL_ERROR else message)
        tb = "".join(traceback.format_exception(exc))
        if code == ExitCode.INTERNAL_ERROR:
            logger.error(tb)
        else:
            logger.debug(tb)
    ended = _now()
    timing["total_s"] = time.perf_counter() - t0
    payload.update(exit_code=code, started=started, ended=ended, timing=timing)
    try:
        write_result(work_dir, payload)
    except OSError as exc:
        logger.error(f"cannot write {RESULT_FILE}: {exc}")
        code = max(code, int(ExitCode.FILE_SYSTEM_ERROR))
    logger.info(f"exit code {code}")
    return code


def main(argv: list[str] | None = None) -> None:
    """Console script ``viq-task <job order>``."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or args[0] in ("-h", "--help"):
        print("usage: viq-task JOB_ORDER.xml", file=sys.stderr)
        sys.exit(int(ExitCode.JOB_ORDER_ERROR) if args[:1] not in (["-h"], ["--help"]) else 0)
    code = run_task(Path(args[0]))
    sys.stdout.flush()
    sys.exit(code)


if __name__ == "__main__":
    main()
