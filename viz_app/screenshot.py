"""Start the explorer on loopback and drive it with Debian's Chromium (Playwright for Python).

Used by ``tests/test_browser.py`` and to refresh the README's screenshot::

    python -m viz_app.screenshot docs/screenshot.png

(the app opens on the shipped models and sample meshes, or on ``MESHCNN_CHECKPOINTS`` /
``MESHCNN_SAMPLES`` when set).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

__all__ = ["CHROMIUM", "free_port", "app_server", "browser_page", "wait_idle", "image_variance", "main"]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
IDLE = '[data-testid="stApp"][data-test-script-state="notRunning"]'


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def app_server(env: dict[str, str] | None = None, timeout: float = 90.0) -> Iterator[str]:
    """Run ``streamlit run viz_app/app.py`` on a free loopback port; yields its URL; stops it after."""
    port = free_port()
    cmd = [
        sys.executable,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "viz_app" / "app.py"),
        "--server.headless",
        "true",
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.fileWatcherType",
        "none",
        "--browser.gatherUsageStats",
        "false",
    ]
    log = tempfile.TemporaryFile()
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                raise RuntimeError("the app did not start:\n" + log.read().decode(errors="replace")[-3000:])
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@contextlib.contextmanager
def browser_page(width: int = 1600, height: int = 1000):
    """A Playwright page in a fresh headless Chromium profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            tempfile.mkdtemp(prefix="meshcnn_chromium_"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": width, "height": height},
        )
        try:
            yield ctx.pages[0] if ctx.pages else ctx.new_page()
        finally:
            ctx.close()


def wait_idle(page, timeout_ms: int = 120_000) -> None:
    """Wait until the app's script has finished running (and the page has settled)."""
    page.wait_for_timeout(400)  # let a rerun start
    page.wait_for_selector(IDLE, timeout=timeout_ms)
    page.wait_for_timeout(800)  # let Plotly draw


def image_variance(png: bytes) -> float:
    """Pixel variance of a PNG (a blank screenshot has ~0)."""
    import imageio.v3 as iio
    import numpy as np

    return float(np.asarray(iio.imread(png), dtype=np.float64)[..., :3].var())


def main(argv: list[str] | None = None) -> int:
    """Save a screenshot of the stage browser."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", default=str(ROOT / "docs" / "screenshot.png"))
    ap.add_argument("--query", default="", help="URL query, e.g. 'stage=2&color=priority'")
    args = ap.parse_args(argv)
    with app_server() as url, browser_page() as page:
        page.goto(url + ("/?" + args.query if args.query else "/"))
        page.wait_for_selector(".js-plotly-plot", timeout=120_000)
        wait_idle(page)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=args.out, full_page=False)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
