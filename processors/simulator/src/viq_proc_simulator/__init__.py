"""VENµS scene simulator (processor ``venus-simulator``) and its in-process API :func:`simulate`."""

from viq_proc_simulator.api import SimulationRun, simulate
from viq_proc_simulator.engine import Acquisition, AcquisitionSpec
from viq_proc_simulator.params import SimulatorParameters
from viq_proc_simulator.products import PRODUCT_TYPES, TRUTH_TYPE

__all__ = [
    "PRODUCT_TYPES",
    "TRUTH_TYPE",
    "Acquisition",
    "AcquisitionSpec",
    "SimulationRun",
    "SimulatorParameters",
    "simulate",
]
