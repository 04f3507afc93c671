"""VIQ geometric calibration processors (registration, band-to-band, multi-date, viewing biases, RPC bias)."""

__version__ = "1.0.0"
