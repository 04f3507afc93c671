"""viq-proc-dem: reference DEM production (``reference-dem``) and DEM comparison (``dem-compare``)."""

__version__ = "01.00"
