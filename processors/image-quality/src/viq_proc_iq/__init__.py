"""VIQ image-quality processors: ISO 12233 slanted-edge MTF."""

__version__ = "01.00"
