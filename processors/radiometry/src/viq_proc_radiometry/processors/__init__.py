"""Processor glue: one module per processor; :data:`PROCESSORS` lists the classes to register."""

from __future__ import annotations

from viq_interfaces.processor import Processor
from viq_proc_radiometry.processors.absolute_calibration import AbsoluteCalibration
from viq_proc_radiometry.processors.dark_signal import DarkSignal
from viq_proc_radiometry.processors.noise_model import NoiseModel
from viq_proc_radiometry.processors.radiometric_correction import RadiometricCorrection
from viq_proc_radiometry.processors.relative_sensitivity import RelativeSensitivity

PROCESSORS: tuple[type[Processor], ...] = (
    DarkSignal,
    RelativeSensitivity,
    NoiseModel,
    AbsoluteCalibration,
    RadiometricCorrection,
)

__all__ = ["PROCESSORS", "AbsoluteCalibration", "DarkSignal", "NoiseModel", "RadiometricCorrection",
           "RelativeSensitivity"]
