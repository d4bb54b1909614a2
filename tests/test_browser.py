"""End to end in a real browser: Debian's Chromium driven by Playwright, the app started on loopback.

Opens the app, picks a mesh, turns the 3D view and moves the stage slider (the camera must stay),
downloads a PNG export, opens the compare page, turns one view there (every view must then have the
same camera, read from the page's Plotly figures) and changes the stage (the cameras must stay), and
checks that every screenshot shows something and that no error box or exception appeared.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from tests.app_fixtures import make_app_tree
from tests.browser_support import require_browser
from viz_app.figures import default_camera
from viz_app.screenshot import app_server, browser_page, image_variance, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

require_browser()

VIEWS = "iframe[title*='mesh_view']"
# The camera the WebGL scene really draws with (not only what the layout asks for).
CAMERA = (
    "() => { const c = document.getElementById('plot')._fullLayout.scene._scene.getCamera(); return c.eye; }"
)


def _no_errors(page) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def _cameras(page) -> list[np.ndarray]:
    """The eye position of every 3D view on the page, in page order."""
    out = []
    for el in page.locator(VIEWS).element_handles():
        eye = el.content_frame().evaluate(CAMERA)
        out.append(np.array([eye["x"], eye["y"], eye["z"]]))
    return out


def _wait_views(page, n: int) -> None:
    page.wait_for_function(f'document.querySelectorAll("{VIEWS}").length >= {n}', timeout=120_000)
    for el in page.locator(VIEWS).element_handles():  # plotly drawn inside each view
        el.content_frame().wait_for_function(
            "() => { const gd = document.getElementById('plot'); "
            "return gd && gd._fullLayout && gd._fullLayout.scene && gd._fullLayout.scene._scene; }",
            timeout=120_000,
        )


def _drag(page, index: int = 0, dx: int = 140, dy: int = 50) -> None:
    box = page.locator(VIEWS).nth(index).bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + dx, y + dy, steps=12)
    page.mouse.up()
    page.wait_for_timeout(1200)


def _slider_step(page, key: str = "ArrowRight") -> None:
    page.locator(
        '[data-testid="stSlider"] input[type=range], [data-testid="stSlider"] [role=slider]'
    ).first.focus()
    page.keyboard.press(key)
    wait_idle(page)
    page.wait_for_timeout(1500)  # the view redraws with the new stage


def test_open_pick_slide_compare(tmp_path):
    tree = make_app_tree(tmp_path / "app")
    env = {
        "MESHCNN_CHECKPOINTS": str(tree["checkpoints"]),
        "MESHCNN_SAMPLES": str(tree["samples"]),
        "MESHCNN_DATASET": str(tree["segdata"]),
        "MESHCNN_DEVICE": "cpu",
        "MESHCNN_CACHE": str(tmp_path / "cache"),
    }
    shots = {}
    with app_server(env) as url, browser_page(height=1300) as page:
        page.goto(url + "/")
        _wait_views(page, 1)
        wait_idle(page)
        _no_errors(page)
        assert "Stage browser" in page.locator("[data-testid=stMain] h1").first.inner_text()
        shots["open"] = page.screenshot()

        # pick a mesh
        page.locator('[data-testid="stSelectbox"]').filter(has_text="Sample mesh").click()
        page.get_by_role("option", name="torus_480").click()
        wait_idle(page)
        _wait_views(page, 1)
        _no_errors(page)
        assert "torus_480" in page.url

        # turn the view, then change the stage: the camera stays where it was turned
        start = _cameras(page)[0]
        _drag(page)
        turned = _cameras(page)[0]
        assert np.linalg.norm(turned - start) > 0.1  # the drag did turn it
        _slider_step(page, "ArrowLeft")  # the landing stage is the last one (2): go to 1
        assert "stage=1" in page.url
        assert "pool 1 · 399 edges" in page.locator('[data-testid="stSlider"]').first.inner_text()
        assert np.allclose(_cameras(page)[0], turned, atol=1e-6)
        shots["stage1"] = page.screenshot()

        # an export rendered on the server (PyVista off-screen, inside the app's script thread)
        page.get_by_role("tab", name="Export").click()
        wait_idle(page)  # lazy tabs: opening one reruns the script
        with page.expect_download(timeout=120_000) as download:
            page.get_by_role("button", name="PNG image").click()
        shots["export"] = Path(download.value.path()).read_bytes()
        assert download.value.suggested_filename.endswith("_stage1_activation.png")

        # the compare page: the mesh choice carries over; the views share one camera
        page.get_by_text("Compare models").first.click()
        wait_idle(page)
        _wait_views(page, 3)  # two models side by side + the kept-by-A-not-B map
        wait_idle(page)
        _no_errors(page)
        assert "Compare models" in page.locator("[data-testid=stMain] h1").first.inner_text()
        assert "torus_480" in page.locator("[data-testid=stMain]").inner_text()
        _drag(page, 0, dx=-160, dy=30)
        cams = _cameras(page)
        assert len(cams) == 3
        assert np.linalg.norm(cams[0] - turned) > 0.1  # the drag turned the first view
        for other in cams[1:]:  # ... and the others followed it
            assert np.allclose(other, cams[0], atol=1e-6), (cams[0], other)
        _drag(page, 1, dx=90, dy=-40)  # the second view leads as well
        cams = _cameras(page)
        assert all(np.allclose(c, cams[1], atol=1e-6) for c in cams)
        _slider_step(page)  # a stage change keeps the shared camera
        assert np.allclose(_cameras(page)[0], cams[1], atol=1e-6)
        assert all(np.allclose(c, cams[1], atol=1e-6) for c in _cameras(page))
        # the house icon of a view's toolbar resets the camera (of every view) to the default one
        view = page.locator(VIEWS).nth(0)
        view.hover()
        view.content_frame.locator('[data-title="Reset the view"]').click()
        page.wait_for_timeout(1200)
        default = default_camera(1.15)["eye"]  # the compare views' camera (figures.stage_figure(narrow=True))
        for c in _cameras(page):
            assert np.allclose(c, [default["x"], default["y"], default["z"]], atol=1e-6), c
        _no_errors(page)
        shots["compare"] = page.screenshot(full_page=True)

    out = os.environ.get("MESHCNN_SCREENSHOT_DIR")
    for name, png in shots.items():
        if out:
            Path(out, f"{name}.png").write_bytes(png)
        assert image_variance(png) > 100, f"the {name} screenshot looks blank"
