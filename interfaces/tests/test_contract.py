"""The processor contract: declarations validate, exit codes follow the ICD, log lines round-trip."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from pydantic import ValidationError

from viq_interfaces import (
    Cancelled,
    ExitCode,
    GippError,
    IcdLogger,
    InputPort,
    InvalidJobOrder,
    Measurement,
    MissingInputError,
    OutputPort,
    ParameterError,
    ProcessorDeclaration,
    Resources,
    Severity,
    exit_code_for,
    parse_line,
    severity,
)


def _decl(**kw: object) -> ProcessorDeclaration:
    base: dict[str, object] = {
        "name": "dark-signal",
        "version": "01.00",
        "description": "d",
        "inputs": (InputPort(name="dark", product_types=("VSC_RAWDAT",), max_count=None),),
        "outputs": (OutputPort(name="candidate", product_type="GIP_DARKCU", format="XML"),),
    }
    base.update(kw)
    return ProcessorDeclaration.model_validate(base)


def test_declaration_accepts_a_well_formed_processor() -> None:
    """A declaration with ICD version, 10-character codes and unique ports is accepted and keyed name@version."""
    decl = _decl()
    assert decl.key == "dark-signal@01.00"
    assert decl.input("dark").max_count is None
    assert decl.output("candidate").product_type == "GIP_DARKCU"


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("version", "1.0", "NN.NN"),
        ("name", "Dark_Signal", "lower-case"),
        ("inputs", (InputPort(name="a", product_types=("VSC_RAWDAT",)),) * 2, "duplicate input"),
    ],
)
def test_declaration_rejects_bad_fields(field: str, value: object, fragment: str) -> None:
    """Bad names, versions and duplicate ports are refused with a message naming the problem."""
    with pytest.raises(ValidationError, match=fragment):
        _decl(**{field: value})


def test_port_type_codes_and_counts_are_checked() -> None:
    """Product types must be 10-character codes; max below min and optional-with-min are refused."""
    with pytest.raises(ValidationError, match="10-character"):
        InputPort(name="x", product_types=("L1C",))
    with pytest.raises(ValidationError, match="max_count"):
        InputPort(name="x", product_types=("VSC_RAWDAT",), min_count=3, max_count=2)
    with pytest.raises(ValidationError, match="mandatory"):
        InputPort(name="x", product_types=("VSC_RAWDAT",), min_count=0)
    with pytest.raises(ValidationError, match="walltime"):
        Resources(walltime=timedelta(0))


def test_exit_codes_follow_the_icd_ranges() -> None:
    """0 is ok, 1–127 warnings, 128–255 (and anything else) errors; typed errors map to their codes."""
    assert severity(0) is Severity.OK
    assert severity(1) is Severity.WARNING and severity(127) is Severity.WARNING
    assert severity(128) is Severity.ERROR and severity(-9) is Severity.ERROR
    assert exit_code_for(MissingInputError("x")) is ExitCode.MISSING_INPUT
    assert exit_code_for(ParameterError("x")) is ExitCode.PARAMETER_ERROR
    assert exit_code_for(GippError("x")) is ExitCode.GIPP_ERROR
    assert exit_code_for(Cancelled("x")) is ExitCode.CANCELLED
    assert exit_code_for(InvalidJobOrder("x", exit_code=134)) is ExitCode.MISSING_INPUT
    assert exit_code_for(KeyError("x")) is ExitCode.INTERNAL_ERROR
    assert all(c == 0 or 1 <= c <= 255 for c in ExitCode)


def test_invalid_job_order_names_file_line_and_field() -> None:
    """The one-line description carries file:line:column and the field."""
    err = InvalidJobOrder("out of range", source="jo.xml", line=12, column=5, field="threshold")
    assert str(err) == "jo.xml:12:5: threshold: out of range"


def test_icd_log_lines_round_trip() -> None:
    """Lines written by IcdLogger parse back with level, task and message; progress is clamped."""
    buf = io.StringIO()
    log = IcdLogger("dark-signal", "01.00", "dark", stream=buf)
    log.info("hello world")
    log.progress(150, "done")
    lines = [parse_line(x) for x in buf.getvalue().splitlines()]
    assert lines[0] is not None and lines[0].level == "I" and lines[0].message == "hello world"
    assert lines[0].processor == "dark-signal" and lines[0].task == "dark"
    assert lines[1] is not None and lines[1].level == "P" and lines[1].message.startswith("100.0%")
    assert parse_line("garbage that is not a log line") is None


def test_measurement_key_is_flat_and_unique_per_band_and_direction() -> None:
    """Measurement.key flattens name, band, TDI and direction for summaries."""
    m = Measurement(name="mtf50", value=0.2, band="B3", direction="across")
    assert m.key == "mtf50_B3_across"
    assert Measurement(name="snr", value=100, band="B1", tdi=8).key == "snr_B1_tdi8"
