"""The venus-model README documents the GIPP content models and the configuration sections."""

from __future__ import annotations

import re
from pathlib import Path

from viq_venus.config import InstrumentConfig
from viq_venus.gipp import CONTENT_MODELS

README = Path(__file__).resolve().parents[1] / "README.md"


def _ticked() -> set[str]:
    text = README.read_text(encoding="utf-8")
    return set(re.findall(r"[A-Za-z_0-9.]+", " ".join(re.findall(r"`([^`\n]+)`", text))))


def test_every_content_model_is_documented() -> None:
    """Each registered GIPP type code and its model class name appear in the README."""
    words = _ticked()
    for code, model in CONTENT_MODELS.items():
        assert code in words and model.__name__ in words, code


def test_every_configuration_section_is_documented() -> None:
    """Each top-level field of InstrumentConfig (scalar or [section]) appears in the README."""
    words = _ticked() | {w.strip("[]") for w in _ticked()}
    text = README.read_text(encoding="utf-8")
    missing = [n for n in InstrumentConfig.model_fields if n not in words and f"[{n}]" not in text]
    assert not missing, f"README lacks configuration fields {missing}"


def test_readme_has_the_required_sections() -> None:
    """What/method, configuration, GIPP models and naming, determinism, status sections are present."""
    heads = [h.lower() for h in re.findall(r"^## (.+)$", README.read_text(encoding="utf-8"), flags=re.M)]
    for wanted in ("models", "configuration", "gipp", "naming", "determinism", "status"):
        assert any(wanted in h for h in heads), f"no README section about {wanted!r}: {heads}"
