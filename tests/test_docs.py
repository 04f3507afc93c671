"""Generated reference pages are committed and current; every hook and setting is documented."""

from __future__ import annotations

from viq_host import docgen
from viq_interfaces import hookspecs


def test_reference_pages_are_not_stale() -> None:
    """docs/reference matches the code; regenerate with the printed command when this fails."""
    stale = docgen.stale_pages()
    assert not stale, f"stale reference pages {stale}: run `{docgen.REGENERATE}`"


def test_every_hook_has_a_docstring_and_appears_in_the_reference() -> None:
    """Each viq_ hookspec is documented (STYLE: one contract file, a docstring per hook)."""
    page = docgen.hooks_page()
    hooks = [n for n in dir(hookspecs) if n.startswith("viq_")]
    assert hooks
    for name in hooks:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name
        assert f"`{name}(" in page


def test_every_setting_is_in_the_settings_page() -> None:
    """Every Settings field appears with its environment variable."""
    from viq_host.config import Settings

    page = docgen.settings_page()
    for name in Settings.model_fields:
        assert f"`VIQ_{name.upper()}`" in page
