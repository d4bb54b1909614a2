"""In a real browser: the compare page as a fresh visit opens it (the shipped landing pair on its vase).

Debian's Chromium driven by Playwright, the app on loopback with the shipped checkpoints and the sample
meshes (``MESHCNN_SAMPLES`` when set): the two classifiers side by side, the overlap table, the map of
the edges kept by one model only (several colors, not one) and the per-part table under it. Set
``MESHCNN_SCREENSHOT_DIR`` to keep the screenshots.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.browser_support import require_browser
from viz_app.catalog import COMPARE_LANDING, checkpoints_dir, samples_dir
from viz_app.screenshot import app_server, browser_page, image_variance, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

require_browser()

from tests.test_browser import VIEWS, _no_errors, _wait_views  # noqa: E402 - after the skip check

# distinct edge colors of a view's edges trace (the kept map: neither / A only / B only / both)
SPREAD = (
    "() => { const c = document.getElementById('plot')._fullData.find(t => t.name === 'edges').line.color; "
    "return new Set(Array.from(c).map(v => String(v))).size; }"
)


def test_fresh_compare_page_opens_on_the_landing_pair(tmp_path):
    files = [samples_dir() / COMPARE_LANDING.mesh] + [checkpoints_dir() / m for m in COMPARE_LANDING.models]
    missing = [p for p in files if not p.is_file()]
    if missing:
        pytest.skip(f"the compare landing needs {', '.join(str(p) for p in missing)}")
    env = {
        "MESHCNN_CHECKPOINTS": str(checkpoints_dir()),
        "MESHCNN_SAMPLES": str(samples_dir()),
        "MESHCNN_DATASET": "",
        "MESHCNN_DEVICE": "cpu",
        "MESHCNN_CACHE": str(tmp_path / "cache"),
    }
    shots = {}
    names = [Path(m).stem for m in COMPARE_LANDING.models]
    with app_server(env) as url, browser_page(height=1300) as page:
        page.goto(url + "/compare")
        _wait_views(page, 3)  # the two models side by side + the kept-by-one-model map
        wait_idle(page)
        _no_errors(page)
        main = page.locator("[data-testid=stMain]").inner_text()
        assert all(n in main for n in names), main[:500]
        assert f"Mesh {Path(COMPARE_LANDING.mesh).stem}" in main.replace("*", "")
        assert "Per ground-truth part" in main and "Which input edges did each model keep?" in main
        assert page.locator('[data-testid="stDataFrame"]').count() == 2  # overlap + per part
        assert f"stage={COMPARE_LANDING.stage}" in page.url and "models=" in page.url
        kept = page.locator(VIEWS).nth(2).element_handle().content_frame()
        assert kept.evaluate(SPREAD) >= 3  # kept by neither / one / the other / both: not one color
        shots["compare_landing"] = page.screenshot(full_page=True)
        top = "e => e.scrollIntoView({block: 'start'})"
        parts = '[data-testid="stDataFrame"] >> nth=1'
        for name, el in (("compare_overlap", "h3"), ("compare_parts", parts)):
            page.locator(f"[data-testid=stMain] {el}").last.evaluate(top)
            page.wait_for_timeout(1500)  # the map redraws once in view
            shots[name] = page.screenshot()
        shots["compare_tables"] = page.locator('[data-testid="stDataFrame"]').nth(1).screenshot()

    out = os.environ.get("MESHCNN_SCREENSHOT_DIR")
    for name, png in shots.items():
        if out:
            Path(out, f"{name}.png").write_bytes(png)
        assert image_variance(png) > 100, f"the {name} screenshot looks blank"
