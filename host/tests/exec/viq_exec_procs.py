"""Small processors the host tests run through the real worker (loaded via ``VIQ_EXTRA_PLUGINS``)."""

from __future__ import annotations

import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import ClassVar

from pydantic import BaseModel, ConfigDict, Field

from viq_interfaces import (
    InputPort,
    Measurement,
    OutputPort,
    OutputProduct,
    ProcessingError,
    Processor,
    ProcessorDeclaration,
    ProcessorResult,
    Resources,
    RetryPolicy,
    RunContext,
    SelectionRule,
    hookimpl,
)
from viq_interfaces.hookspecs import ProcessorRegistry

_TEXT_OUT = OutputPort(name="report", product_type="VIQ_TSTREP", format="TXT", description="A text file.")


class NoOp(Processor):
    """Does nothing and succeeds (no inputs, no outputs)."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-noop", version="01.00", description="No-op test processor."
    )

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        return ProcessorResult()


class SumParams(BaseModel):
    """Parameters of :class:`Summer`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    scale: float = Field(default=1.0, gt=0, le=100, description="Factor applied to the byte count.")
    steps: int = Field(default=0, ge=0, le=100, description="Progress lines to write.")


class Summer(Processor):
    """Counts the bytes of its inputs, writes a report and measures ``nbytes`` (scaled)."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-summer",
        version="01.00",
        description="Byte counter test processor.",
        inputs=(InputPort(name="data", product_types=("VIQ_TSTDAT",), min_count=1, max_count=3,
                          selection=SelectionRule.VAL_INTERSECT),),
        outputs=(_TEXT_OUT,),
    )
    Parameters: ClassVar[type[BaseModel]] = SumParams

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        params = ctx.params
        assert isinstance(params, SumParams)
        total = 0
        for product in ctx.all("data"):
            total += product.path.stat().st_size
            ctx.logger.info(f"read {product.path.name}")
        for k in range(params.steps):
            ctx.logger.progress(100.0 * (k + 1) / params.steps, f"step {k + 1}")
        out = ctx.output_dir / "report.txt"
        out.write_text(f"{total}\n", encoding="utf-8")
        detail = ctx.output_dir / "report.d" / "inputs.txt"  # a companion file, not an output of its own
        detail.parent.mkdir()
        detail.write_text("".join(f"{p.path.name}\n" for p in ctx.all("data")), encoding="utf-8")
        return ProcessorResult(
            outputs=(OutputProduct(port="report", path=Path("report.txt"), product_type="VIQ_TSTREP"),),
            measurements=(
                Measurement(name="nbytes", value=total * params.scale, unit="B"),
                Measurement(name="nbytes", value=float(total), band="B1", direction="along"),
            ),
            summary=f"{total} bytes",
        )


class Crasher(Processor):
    """Raises: a ProcessingError (148) when ``typed`` is true, else a bare ZeroDivisionError (255)."""

    class Parameters(BaseModel):
        model_config = ConfigDict(extra="forbid", frozen=True)
        typed: bool = Field(default=False, description="Raise a typed ProcessingError.")

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-crash", version="01.00", description="Crashing test processor.", outputs=(_TEXT_OUT,)
    )

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        if getattr(ctx.params, "typed", False):
            raise ProcessingError("fit did not converge")
        return ProcessorResult(summary=str(1 / 0))


class Liar(Processor):
    """Exits 0 and claims nothing although it declares a mandatory output."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-liar", version="01.00", description="Writes no output.", outputs=(_TEXT_OUT,)
    )

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        return ProcessorResult(summary="done, honest")


class Phantom(Processor):
    """Exits 0 listing an output file it never wrote."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-phantom", version="01.00", description="Lists a missing file.", outputs=(_TEXT_OUT,)
    )

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        missing = OutputProduct(port="report", path=Path("nope.txt"), product_type="VIQ_TSTREP")
        return ProcessorResult(outputs=(missing,))


class Hanger(Processor):
    """Sleeps forever, ignoring cancellation; its walltime is 2 s."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-hang",
        version="01.00",
        description="Hangs.",
        resources=Resources(walltime=timedelta(seconds=2)),
        retry=RetryPolicy(max_attempts=1),
    )

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        ctx.logger.info("hanging")
        while True:
            time.sleep(0.05)


class Patient(Processor):
    """Waits (checking cancellation) until cancelled, reporting progress."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-patient", version="01.00", description="Waits to be cancelled."
    )

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        for k in range(600):
            ctx.logger.progress(k / 6, "waiting")
            ctx.check_cancelled()
            time.sleep(0.05)
        return ProcessorResult()


class Babbler(Processor):
    """Writes garbage (text, binary, half ICD lines) to stdout and stderr, then succeeds."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-babble", version="01.00", description="Noisy.", outputs=(_TEXT_OUT,)
    )

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        print("Hello from a library that prints!")
        print("2026-11-25T10:00:00 not really an ICD line [I] nope")
        sys.stdout.flush()
        sys.stdout.buffer.write(b"\x00\xff\xfe binary \x1b[31m junk\r\n{\"json\": true}\n")
        sys.stdout.buffer.write(b"no newline at the end")
        sys.stdout.flush()
        print("some stderr noise", file=sys.stderr)
        ctx.logger.info("still fine")
        (ctx.output_dir / "r.txt").write_text("ok\n", encoding="utf-8")
        return ProcessorResult(outputs=(OutputProduct(port="report", path=Path("r.txt"), product_type="VIQ_TSTREP"),))


class FlakyParams(BaseModel):
    """Parameters of :class:`Flaky`."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    marker: str = Field(default="", description="File whose absence makes the run fail (and creates it).")


class Flaky(Processor):
    """Fails (148) the first time (creating ``marker``), succeeds afterwards; two attempts allowed."""

    declaration: ClassVar[ProcessorDeclaration] = ProcessorDeclaration(
        name="t-flaky",
        version="01.00",
        description="Fails once.",
        outputs=(_TEXT_OUT,),
        retry=RetryPolicy(max_attempts=2, retry_on=(148,)),
    )
    Parameters: ClassVar[type[BaseModel]] = FlakyParams

    def run(self, ctx: RunContext[BaseModel]) -> ProcessorResult:
        params = ctx.params
        assert isinstance(params, FlakyParams)
        marker = Path(params.marker)
        if not marker.exists():
            marker.write_text(ctx.attempt_id, encoding="utf-8")
            raise ProcessingError("transient failure")
        (ctx.output_dir / "r.txt").write_text(marker.read_text(encoding="utf-8"), encoding="utf-8")
        return ProcessorResult(outputs=(OutputProduct(port="report", path=Path("r.txt"), product_type="VIQ_TSTREP"),))


ALL: tuple[type[Processor], ...] = (NoOp, Summer, Crasher, Liar, Phantom, Hanger, Patient, Babbler, Flaky)


@hookimpl
def viq_add_processors(registry: ProcessorRegistry) -> None:
    """This module is a plugin: it registers every test processor."""
    for cls in ALL:
        registry.add(cls)


def worker_env() -> dict[str, str]:
    """Environment that makes these test processors loadable by a worker subprocess."""
    from viq_host.testing.harness import module_root

    return {"VIQ_EXTRA_PLUGINS": "viq_exec_procs", "PYTHONPATH": str(module_root("viq_exec_procs"))}
