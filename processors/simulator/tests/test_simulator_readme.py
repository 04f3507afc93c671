"""The README documents what the code does: every parameter, product type code and truth key."""

from __future__ import annotations

import re
from pathlib import Path

from viq_proc_simulator import PRODUCT_TYPES, TRUTH_TYPE, SimulatorParameters, simulate
from viq_proc_simulator.processor import VenusSimulator
from viq_proc_simulator.products import TRUTH_FORMAT

README = Path(__file__).resolve().parents[1] / "README.md"


def _ticked() -> set[str]:
    return set(re.findall(r"`([^`\n]+)`", README.read_text(encoding="utf-8")))


def _words() -> set[str]:
    return set(re.findall(r"[A-Za-z_0-9.]+", " ".join(_ticked())))


def test_readme_has_the_required_sections() -> None:
    """Sections asked of every processor README are present (use, configuration, layout, truth, GIPPs, …)."""
    heads = [h.lower() for h in re.findall(r"^## (.+)$", README.read_text(encoding="utf-8"), flags=re.M)]
    for wanted in ("use", "configuration", "method", "product layout", "truth format", "gipp", "determinism",
                   "status"):
        assert any(wanted in h for h in heads), f"no README section about {wanted!r}: {heads}"


def test_every_parameter_is_documented() -> None:
    """Each SimulatorParameters field appears in backticks in the README."""
    words = _words()
    missing = [name for name in SimulatorParameters.model_fields if name not in words]
    assert not missing, f"README lacks parameters {missing}"


def test_every_product_type_and_port_is_documented() -> None:
    """Every product type code the processor declares (and the truth format name) is in the README."""
    words = _words()
    codes = {p.product_type for p in VenusSimulator.declaration.outputs} | set(PRODUCT_TYPES.values()) | {TRUTH_TYPE}
    assert not [c for c in codes if c not in words]
    assert TRUTH_FORMAT in _ticked()


def test_every_truth_key_is_documented(tmp_path: Path) -> None:
    """Each top-level and per-band key of a terrain acquisition's truth JSON is named in the README."""
    run = simulate(tmp_path, acquisition="terrain", bands=("B5",), lines=32, pixels=32, products=("raw",),
                   truth_gipps=False)
    truth = run.truth()
    words = _words()
    keys = set(truth) | set(truth["bands"]["B5"]) | set(truth["attitude"]) | set(truth["files"])
    missing = sorted(k for k in keys if k not in words)
    assert not missing, f"README lacks truth keys {missing}"
