"""What the real-browser tests need before they run: Debian's chromium and Playwright for Python."""

from __future__ import annotations

from pathlib import Path

import pytest

from viz_app.screenshot import CHROMIUM


def require_browser() -> None:
    """Skip the calling test module (with the reason) when the browser or Playwright is missing."""
    if not Path(CHROMIUM).exists():
        pytest.skip(
            f"{CHROMIUM} is missing (install Debian's chromium: apt-get install chromium)",
            allow_module_level=True,
        )
    pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")
