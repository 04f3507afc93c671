"""viq-interfaces: the contract between the VIQ host and its processor plugins.

Processors import only this package (and numeric libraries); the host implements it.
"""

from viq_interfaces.context import GippInForce, InputProduct, ProcessorLogger, RunContext
from viq_interfaces.declaration import (
    GippRequirement,
    InputPort,
    OutputPort,
    ProcessorDeclaration,
    Resources,
    RetryPolicy,
    SelectionRule,
)
from viq_interfaces.errors import (
    Cancelled,
    ConfigurationError,
    ExternalProcessError,
    GippError,
    InvalidJobOrder,
    MissingInputError,
    ParameterError,
    ProcessingError,
    ProcessorError,
    RegistryError,
    ViqError,
)
from viq_interfaces.exitcodes import ExitCode, Severity, exit_code_for, severity
from viq_interfaces.hookspecs import hookimpl, hookspec
from viq_interfaces.icdlog import IcdLogger, parse_line
from viq_interfaces.processor import NoParameters, Processor
from viq_interfaces.result import Measurement, OutputProduct, ProcessorResult, RunStatus

__version__ = "0.1.0"

__all__ = [
    "Cancelled",
    "ConfigurationError",
    "ExitCode",
    "ExternalProcessError",
    "GippError",
    "GippInForce",
    "GippRequirement",
    "IcdLogger",
    "InputPort",
    "InputProduct",
    "InvalidJobOrder",
    "Measurement",
    "MissingInputError",
    "NoParameters",
    "OutputPort",
    "OutputProduct",
    "ParameterError",
    "ProcessingError",
    "Processor",
    "ProcessorDeclaration",
    "ProcessorError",
    "ProcessorLogger",
    "ProcessorResult",
    "RegistryError",
    "Resources",
    "RetryPolicy",
    "RunContext",
    "RunStatus",
    "SelectionRule",
    "Severity",
    "ViqError",
    "exit_code_for",
    "hookimpl",
    "hookspec",
    "parse_line",
    "severity",
]
