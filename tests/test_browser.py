"""End to end in a real browser: Debian's Chromium driven by Playwright, the app started on loopback.

Opens the app, picks a mesh, moves the stage slider, downloads a PNG export, opens the compare page,
and checks that every screenshot shows something (pixel variance) and that no error box or exception
appeared.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.app_fixtures import make_app_tree
from viz_app.screenshot import CHROMIUM, app_server, browser_page, image_variance, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

if not Path(CHROMIUM).exists():
    pytest.skip(f"{CHROMIUM} is missing (install Debian's chromium: apt-get install chromium)",
                allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="playwright (Python) is not installed")


def _no_errors(page) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def _plot_visible(page) -> None:
    page.wait_for_selector(".js-plotly-plot .gl-container canvas, .js-plotly-plot canvas", timeout=120_000)


def test_open_pick_slide_compare(tmp_path):
    tree = make_app_tree(tmp_path / "app")
    env = {"MESHCNN_CHECKPOINTS": str(tree["checkpoints"]), "MESHCNN_SAMPLES": str(tree["samples"]),
           "MESHCNN_DATASET": str(tree["segdata"]), "MESHCNN_DEVICE": "cpu",
           "MESHCNN_CACHE": str(tmp_path / "cache")}
    shots = {}
    with app_server(env) as url, browser_page() as page:
        page.goto(url + "/")
        _plot_visible(page)
        wait_idle(page)
        _no_errors(page)
        assert "Stage browser" in page.locator("[data-testid=stMain] h1").first.inner_text()
        shots["open"] = page.screenshot()

        # pick a mesh
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Sample mesh").click()
        page.get_by_role("option", name="torus_480").click()
        wait_idle(page)
        _plot_visible(page)
        _no_errors(page)
        assert "torus_480" in page.url

        # move the stage slider
        page.locator('[data-testid="stSlider"] input[type=range]').first.focus()
        page.keyboard.press("ArrowRight")
        wait_idle(page)
        page.keyboard.press("ArrowRight")
        wait_idle(page)
        _no_errors(page)
        assert "stage=2" in page.url
        assert "pool 2 · 300 edges" in page.locator('[data-testid="stSlider"]').first.inner_text()
        shots["stage2"] = page.screenshot()

        # an export rendered on the server (PyVista off-screen, inside the app's script thread)
        page.get_by_role("tab", name="Export").click()
        wait_idle(page)  # lazy tabs: opening one reruns the script
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name="PNG image of this view").click()
        shots["export"] = Path(download.value.path()).read_bytes()
        assert download.value.suggested_filename.endswith("_stage2_activation.png")

        # the compare page
        page.get_by_text("Compare models").first.click()
        wait_idle(page)
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 3", timeout=120_000)
        wait_idle(page)
        _no_errors(page)
        assert "Compare models" in page.locator("[data-testid=stMain] h1").first.inner_text()
        assert "torus_480" in page.locator("[data-testid=stMain]").inner_text()  # the mesh choice carried over
        shots["compare"] = page.screenshot(full_page=True)

    out = os.environ.get("MESHCNN_SCREENSHOT_DIR")
    for name, png in shots.items():
        if out:
            Path(out, f"{name}.png").write_bytes(png)
        assert image_variance(png) > 100, f"the {name} screenshot looks blank"
