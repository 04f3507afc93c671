"""Hand-built run contexts for unit tests of a processor's ``run`` (no host, no subprocess).

``make_context(MyProcessor, tmp_path, {"image": [InputProduct(path, "VSC_L1VALD")]}, window=9)`` returns the
frozen :class:`~viq_interfaces.RunContext` the worker would build, with a :class:`ListLogger` that keeps the
lines so a test can assert on them. To run through the real host instead, use
:func:`viq_host.testing.harness.run_processor`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from viq_interfaces import GippInForce, InputProduct, Processor, RunContext


class ListLogger:
    """A ProcessorLogger that keeps ``(level, message)`` pairs (levels D, I, P, W, E)."""

    def __init__(self) -> None:
        self.lines: list[tuple[str, str]] = []

    def debug(self, message: str) -> None:
        """Level D."""
        self.lines.append(("D", message))

    def info(self, message: str) -> None:
        """Level I."""
        self.lines.append(("I", message))

    def progress(self, percent: float, message: str = "") -> None:
        """Level P."""
        self.lines.append(("P", f"{percent:.1f} {message}".rstrip()))

    def warning(self, message: str) -> None:
        """Level W."""
        self.lines.append(("W", message))

    def error(self, message: str) -> None:
        """Level E."""
        self.lines.append(("E", message))

    def messages(self, level: str | None = None) -> list[str]:
        """Messages, optionally of one level."""
        return [m for lv, m in self.lines if level is None or lv == level]


def make_context(
    processor: type[Processor],
    tmp_path: Path,
    inputs: Mapping[str, Sequence[InputProduct]] | None = None,
    *,
    gipps: Mapping[str, Sequence[GippInForce]] | None = None,
    logger: ListLogger | None = None,
    **params: Any,
) -> RunContext[BaseModel]:
    """The RunContext the worker would build for ``processor`` (parameters validated by its model)."""
    work = tmp_path / "work"
    out = work / "out"
    out.mkdir(parents=True, exist_ok=True)
    decl = processor.declaration
    return RunContext(
        job_id="test-job",
        attempt_id="test-attempt",
        processor=decl.name,
        version=decl.version,
        inputs={k: tuple(v) for k, v in (inputs or {}).items()},
        params=processor.Parameters.model_validate(params),
        gipps={k: tuple(v) for k, v in (gipps or {}).items()},
        work_dir=work,
        output_dir=out,
        logger=logger if logger is not None else ListLogger(),
        is_cancelled=lambda: False,
    )
