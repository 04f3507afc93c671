"""What the benchmarks share about the project's test services."""

from __future__ import annotations

import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def postgis_url(given: str | None) -> str:
    """``given``, else the URL of the throwaway cluster that ``scripts/services/postgis.sh`` runs."""
    if given:
        return given
    done = subprocess.run(
        [str(ROOT / "scripts/services/postgis.sh"), "url"], capture_output=True, text=True, check=True
    )
    return done.stdout.strip()
