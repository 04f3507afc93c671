"""Exit codes of processors and of the ``viq`` command, following the ESA generic-processor ICD.

0 is success, 1–127 success with warnings, 128–255 failure. This is the one place where outcomes map
to codes.
"""

from __future__ import annotations

import enum

from viq_interfaces import errors


class ExitCode(enum.IntEnum):
    """Documented exit codes (ICD convention: 0 ok, 1–127 warning, 128–255 error)."""

    OK = 0
    WARNING = 1
    SKIPPED = 2
    JOB_ORDER_ERROR = 128
    UNKNOWN_PROCESSOR = 129
    FILE_SYSTEM_ERROR = 130
    MISSING_INPUT = 134
    GIPP_ERROR = 135
    PARAMETER_ERROR = 147
    PROCESSING_ERROR = 148
    MISSING_OUTPUT = 149
    CANCELLED = 150
    WALLTIME_EXCEEDED = 151
    KILLED = 152
    CONFIGURATION_ERROR = 160
    SERVICE_ERROR = 170
    INTERNAL_ERROR = 255


class Severity(enum.StrEnum):
    """What an exit code means to the host."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


def severity(code: int) -> Severity:
    """Classify any process exit code per the ICD (negative or >255 codes are errors)."""
    if code == 0:
        return Severity.OK
    if 1 <= code <= 127:
        return Severity.WARNING
    return Severity.ERROR


_BY_CLASS: tuple[tuple[type[BaseException], ExitCode], ...] = (
    (errors.InvalidJobOrder, ExitCode.JOB_ORDER_ERROR),
    (errors.MissingInputError, ExitCode.MISSING_INPUT),
    (errors.ParameterError, ExitCode.PARAMETER_ERROR),
    (errors.GippError, ExitCode.GIPP_ERROR),
    (errors.Cancelled, ExitCode.CANCELLED),
    (errors.ProcessingError, ExitCode.PROCESSING_ERROR),
    (errors.ProcessorError, ExitCode.PROCESSING_ERROR),
    (errors.ConfigurationError, ExitCode.CONFIGURATION_ERROR),
    (errors.RegistryError, ExitCode.UNKNOWN_PROCESSOR),
    (errors.ViqError, ExitCode.PROCESSING_ERROR),
)


def exit_code_for(exc: BaseException) -> ExitCode:
    """Exit code for an exception that ended a run; unknown exceptions are internal errors (255)."""
    if isinstance(exc, errors.InvalidJobOrder):
        try:
            return ExitCode(exc.exit_code)
        except ValueError:
            return ExitCode.JOB_ORDER_ERROR
    if isinstance(exc, errors.ExternalProcessError):
        try:
            return ExitCode(exc.exit_code)
        except ValueError:
            return ExitCode.PROCESSING_ERROR
    for cls, code in _BY_CLASS:
        if isinstance(exc, cls):
            return code
    return ExitCode.INTERNAL_ERROR
