"""Every error VIQ raises derives from :class:`ViqError`.

Processors raise the typed errors below to end a run with a precise outcome; the worker maps each
class to its exit code in one place (:func:`viq_interfaces.exitcodes.exit_code_for`).
"""

from __future__ import annotations


class ViqError(Exception):
    """Root of every error raised by VIQ code (host, processors, tools)."""


class ConfigurationError(ViqError, ValueError):
    """Raised when a configuration file or setting is inconsistent; the message names the field."""


class InvalidJobOrder(ViqError, ValueError):
    """Raised when a job order cannot be read or does not match its schema or processor declaration.

    ``source`` is the file, ``line``/``column`` the position when known and ``field`` the XML path or
    parameter name at fault.
    """

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        line: int | None = None,
        column: int | None = None,
        field: str | None = None,
        exit_code: int = 128,
    ) -> None:
        self.message = message
        self.source = source
        self.line = line
        self.column = column
        self.field = field
        self.exit_code = exit_code
        super().__init__(self.describe())

    def describe(self) -> str:
        """One line for people: ``file:line:column: field: message``."""
        where = ""
        if self.source:
            where = self.source
            if self.line is not None:
                where += f":{self.line}"
                if self.column is not None:
                    where += f":{self.column}"
            where += ": "
        fld = f"{self.field}: " if self.field else ""
        return f"{where}{fld}{self.message}"


class ProcessorError(ViqError):
    """Raised by a processor to end its run as failed; subclasses select the exit code."""


class MissingInputError(ProcessorError, FileNotFoundError):
    """Raised when a mandatory input is absent or unreadable (exit code 134)."""


class ParameterError(ProcessorError, ValueError):
    """Raised when a parameter value is invalid for this run (exit code 147)."""


class GippError(ProcessorError, LookupError):
    """Raised when a required GIPP is missing, ambiguous or malformed (exit code 135)."""


class ProcessingError(ProcessorError, RuntimeError):
    """Raised when the processing itself fails, e.g. a fit that does not converge (exit code 148)."""


class Cancelled(ProcessorError):
    """Raised by a processor that saw the cancellation request of its run context (exit code 150)."""


class ExternalProcessError(ProcessorError):
    """Raised when an external executable (task-table processor, toolbox application) ended with an error.

    ``exit_code`` is the executable's own exit status; the worker keeps it when it is a documented ICD code
    (e.g. 134 missing input, 149 missing output) and maps any other failure to 148.
    """

    def __init__(self, message: str, *, exit_code: int = 148) -> None:
        self.exit_code = exit_code
        super().__init__(message)


class ProcessorWarning(ViqError):
    """Raised (or returned in a result) when a run completed with a degraded result (exit code 1..127)."""


class RegistryError(ViqError, LookupError):
    """Raised when a processor, executor or backend is unknown, disabled or registered twice."""
