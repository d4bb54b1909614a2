"""The inspect and teaching pages in a real browser (Debian's Chromium driven by Playwright).

Picks an edge by clicking the midpoint dot nearest to the camera in the 3D view (its screen position
computed from Plotly's own camera matrices), checks that the page follows that edge and that the
camera the user set survives the click, does the same on the input mesh (the reverse direction), then
opens the teaching page and walks it with the Page Down key and the Next button.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.app_fixtures import make_app_tree
from tests.browser_support import require_browser
from viz_app.screenshot import app_server, browser_page, image_variance, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

require_browser()

VIEW = 'iframe[title*="pick_view"]'
HOVER_JS = "() => Array.from(document.querySelectorAll('.hoverlayer')).map((e) => e.textContent).join(' ')"
CAMERA_JS = (
    "() => document.getElementById('plot')._fullLayout.scene._scene.getCamera().eye"  # the live camera
)


def _no_errors(page) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, errors.all_inner_texts()


def _frame(page, i: int):
    return page.locator(VIEW).nth(i).element_handle().content_frame()


def _wait_plot(page, i: int) -> None:
    _frame(page, i).wait_for_function(
        "() => { const g = document.getElementById('plot'); "
        "return g && g._fullLayout && g._fullLayout.scene; }",
        timeout=120_000,
    )


# Screen positions of the midpoint dots, nearest to the camera first, from Plotly's own camera matrices.
DOTS_JS = """() => {
  const gd = document.getElementById('plot');
  const sc = gd._fullLayout.scene._scene, cp = sc.glplot.cameraParams, ds = sc.dataScale;
  const tr = gd._fullData.find((t) => t.name === 'midpoints');
  const mul = (m, v) => [0, 1, 2, 3].map(
    (r) => m[r] * v[0] + m[4 + r] * v[1] + m[8 + r] * v[2] + m[12 + r] * v[3]);
  const w = gd.clientWidth, h = gd.clientHeight, out = [];
  for (let i = 0; i < tr.x.length; i++) {
    const v = mul(cp.view, mul(cp.model, [tr.x[i] * ds[0], tr.y[i] * ds[1], tr.z[i] * ds[2], 1]));
    const p = mul(cp.projection, v);
    const x = (0.5 + 0.5 * p[0] / p[3]) * w, y = (0.5 - 0.5 * p[1] / p[3]) * h;
    if (x > 0.2 * w && x < 0.8 * w && y > 0.2 * h && y < 0.8 * h) out.push([x, y, -v[2], tr.text[i]]);
  }
  return out.sort((a, b) => a[2] - b[2]).slice(0, 40);
}"""


def _front_dot(page, i: int) -> tuple[float, float, int]:
    """The page position of the midpoint dot nearest to the camera in view ``i``, and the edge it names."""
    box = page.locator(VIEW).nth(i).bounding_box()
    x, y, _, text = _frame(page, i).evaluate(DOTS_JS)[0]
    return box["x"] + x, box["y"] + y, int(re.search(r"edge (\d+)", text).group(1))


def _click(page, x: float, y: float) -> None:
    """Move onto the point as a person would (the view learns what is under the mouse), then click."""
    page.mouse.move(x - 10, y)
    page.mouse.move(x, y, steps=5)
    page.wait_for_timeout(400)
    page.mouse.click(x, y)


def _edge_box(page) -> int:
    return int(page.locator('[data-testid="stNumberInput"] input').first.input_value())


def test_pick_an_edge_and_open_the_teaching_page(tmp_path):
    tree = make_app_tree(tmp_path / "app")
    env = {
        "MESHCNN_CHECKPOINTS": str(tree["checkpoints"]),
        "MESHCNN_SAMPLES": str(tree["samples"]),
        "MESHCNN_DEVICE": "cpu",
    }
    shots = {}
    with app_server(env) as url, browser_page(1600, 1400) as page:
        page.goto(url + "/inspect")
        page.wait_for_selector(VIEW, timeout=120_000)
        wait_idle(page)
        _wait_plot(page, 0)
        _no_errors(page)
        assert "Inspect an edge" in page.locator("[data-testid=stMain] h1").first.inner_text()
        before = _edge_box(page)

        # turn the stage view a little (drag), then pick an edge in it
        box = page.locator(VIEW).nth(0).bounding_box()
        start = _frame(page, 0).evaluate(CAMERA_JS)
        page.mouse.move(box["x"] + box["width"] * 0.7, box["y"] + box["height"] * 0.85)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.8, steps=8)
        page.mouse.up()
        page.wait_for_timeout(500)
        turned = _frame(page, 0).evaluate(CAMERA_JS)
        assert max(abs(turned[k] - start[k]) for k in "xyz") > 0.05  # the drag did turn the view
        x, y, picked = _front_dot(page, 0)
        _click(page, x, y)
        wait_idle(page)
        _wait_plot(page, 0)
        _no_errors(page)
        assert _edge_box(page) == picked
        main = page.locator("[data-testid=stMain]").inner_text()
        assert f"Edge {picked} is an edge of stage 1" in main
        assert f"Where input edge {picked} goes" in main
        kept = _frame(page, 0).evaluate(CAMERA_JS)
        assert kept == pytest.approx(turned, abs=1e-6)  # the click did not reset the camera
        shots["inspect_picked"] = page.screenshot()

        # the reverse: pick an input edge on the input mesh
        _wait_plot(page, 1)
        x, y, input_edge = _front_dot(page, 1)
        _click(page, x, y)
        wait_idle(page)
        _no_errors(page)
        assert _edge_box(page) == input_edge
        assert f"Where input edge {input_edge} goes" in page.locator("[data-testid=stMain]").inner_text()
        assert input_edge != picked or before != picked

        # the teaching page, run with the keyboard and the Next button only
        page.get_by_text("Teaching mode").first.click()
        wait_idle(page)
        page.wait_for_selector(VIEW, timeout=120_000)
        _no_errors(page)
        assert "How a mesh network sees a mesh" in page.locator("[data-testid=stMain] h1").first.inner_text()
        assert "1. A mesh is made of edges" in page.locator("[data-testid=stMain] h2").first.inner_text()
        shots["teach_1"] = page.screenshot()
        page.locator("[data-testid=stMain] h1").first.click()  # focus the page, not a widget
        page.keyboard.press("PageDown")
        page.wait_for_selector("[data-testid=stMain] h2:has-text('2. Five numbers per edge')", timeout=60_000)
        wait_idle(page)
        page.get_by_role("button", name="Next").first.click()
        page.wait_for_selector("[data-testid=stMain] h2:has-text('3. Convolution')", timeout=60_000)
        wait_idle(page)
        _no_errors(page)
        page.wait_for_selector(VIEW, timeout=120_000)
        page.wait_for_timeout(1500)
        shots["teach_3"] = page.screenshot()

    out = os.environ.get("MESHCNN_SCREENSHOT_DIR")
    for name, png in shots.items():
        if out:
            Path(out, f"{name}.png").write_bytes(png)
        assert image_variance(png) > 100, f"the {name} screenshot looks blank"
