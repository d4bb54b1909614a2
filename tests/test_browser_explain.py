"""In a real browser: the attribution view with its deletion check, and the data-set page.

Debian's Chromium driven by Playwright, the app on loopback with tiny random-weight models: color the
stage browser by attribution (the sidebar offers method and target; the deletion curve and its verdict
appear beside the view), then survey a small classification data set on the data-set page (run button,
report, gallery of survival maps, CSV download).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.test_browser import VIEWS, _no_errors, _wait_views
from tests.test_explain_service import make_cls_dataset
from viz_app.screenshot import app_server, browser_page, image_variance, wait_idle

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SPREAD = (
    "() => { const c = document.getElementById('plot')._fullData.find(t => t.name === 'edges').line.color; "
    "return new Set(Array.from(c).map(v => v.toPrecision(4))).size; }"
)


def _pick(page, label: str, option: str) -> None:
    page.locator('[data-testid="stSelectbox"]').filter(has_text=label).first.click()
    page.get_by_role("option", name=option).first.click()
    wait_idle(page)


def test_attribution_view_and_dataset_page(tmp_path):
    from tests.app_fixtures import make_app_tree

    tree = make_app_tree(tmp_path / "app")
    data = make_cls_dataset(tmp_path / "app" / "cls3")
    env = {
        "MESHCNN_CHECKPOINTS": str(tree["checkpoints"]),
        "MESHCNN_SAMPLES": str(tree["samples"]),
        "MESHCNN_DATASET": str(data),
        "MESHCNN_DEVICE": "cpu",
        "MESHCNN_CACHE": str(tmp_path / "cache"),
    }
    shots = {}
    with app_server(env) as url, browser_page(height=1300) as page:
        page.goto(url + "/?stage=0")
        _wait_views(page, 1)
        wait_idle(page)
        _pick(page, "Color edges by", "Attribution")
        page.wait_for_selector(
            '[data-testid="stAlertContentSuccess"], [data-testid="stAlertContentInfo"], '
            '[data-testid="stAlertContentWarning"]',
            timeout=120_000,
        )
        _wait_views(page, 1)
        wait_idle(page)
        _no_errors(page)
        boxes = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]')
        shown = lambda label: boxes.filter(has_text=label).first.locator("input").input_value()  # noqa: E731
        assert shown("Method") == "Integrated gradients" and "(predicted, " in shown("Explain the class")
        main = page.locator("[data-testid=stMain]").inner_text()
        assert "Does this picture mean anything?" in main and "Hiding the top 10% of the edges" in main
        assert page.locator('[data-testid="stPlotlyChart"]').count() == 2  # deletion curve + prediction bars
        view = page.locator(VIEWS).first.element_handle().content_frame()
        assert view.evaluate(SPREAD) > 20  # the edges take many colors, not one
        shots["attribution"] = page.screenshot()

        _pick(page, "Method", "Gradient × input")
        _wait_views(page, 1)
        _no_errors(page)
        assert "gradient × input" in page.locator("[data-testid=stMain]").inner_text()

        page.get_by_role("link", name="Across a data set").click()
        wait_idle(page)
        _no_errors(page)
        assert "holds 4 meshes" in page.locator("[data-testid=stMain]").inner_text()
        page.get_by_role("button", name="Run the survey").click()
        page.wait_for_selector('[data-testid="stMetric"]', timeout=300_000)
        wait_idle(page)
        _no_errors(page)
        main = page.locator("[data-testid=stMain]").inner_text()
        assert "4 of 4" in main and "Which geometry survives" in main
        assert "Which part of the shape survives" in main
        assert page.locator('[data-testid="stDataFrame"]').count() == 2  # the per-class table and the regions
        _pick(page, "Class", "blob")
        _wait_views(page, 2)  # the class's two meshes, each with its survival map
        wait_idle(page)
        for el in page.locator(VIEWS).element_handles():
            assert el.content_frame().evaluate(SPREAD) >= 2  # survival depths differ over the mesh
        with page.expect_download(timeout=60_000) as download:
            page.get_by_role("button", name="Table (CSV)").click()
        text = Path(download.value.path()).read_text()
        assert text.startswith("class,meshes,accuracy,") and text.count("\n") == 4
        _no_errors(page)
        shots["dataset"] = page.screenshot(full_page=True)

    out = os.environ.get("MESHCNN_SCREENSHOT_DIR")
    for name, png in shots.items():
        if out:
            Path(out, f"{name}.png").write_bytes(png)
        assert image_variance(png) > 100, f"the {name} screenshot looks blank"
