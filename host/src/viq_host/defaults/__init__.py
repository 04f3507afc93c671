"""Default configuration files shipped with the host (specifications)."""
