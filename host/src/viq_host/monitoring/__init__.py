"""Performance monitoring: specifications, alerts and reports built from every processor's measurements."""

from viq_host.monitoring.alerts import Alert, evaluate
from viq_host.monitoring.specs import Spec, load_specs
from viq_host.monitoring.types import GippChange, SeriesPoint

__all__ = ["Alert", "GippChange", "SeriesPoint", "Spec", "evaluate", "load_specs"]
