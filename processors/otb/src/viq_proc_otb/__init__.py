"""viq-proc-otb: Orfeo Toolbox applications (``otbcli_<App>``) as VIQ processors.

Ports and parameters are derived from each application's own ``-help`` (parsed and cached), never typed by hand.
"""

from viq_proc_otb.helpparse import OtbApp, OtbApplicationMissing, OtbParam, describe, parse_help
from viq_proc_otb.processor import DEFAULT_APPLICATIONS, OtbProcessor, otb_processor, processor_class, processor_name

__all__ = [
    "DEFAULT_APPLICATIONS",
    "OtbApp",
    "OtbApplicationMissing",
    "OtbParam",
    "OtbProcessor",
    "describe",
    "otb_processor",
    "parse_help",
    "processor_class",
    "processor_name",
]
