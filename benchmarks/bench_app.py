"""Explorer speed, server side: time to first result and time to switch stage.

Run: ``python benchmarks/bench_app.py [--threads 1] [--repeats 3]``

* **first result**: load the checkpoint, read the mesh, fit it to the model, run the forward pass
  that records every stage, build the first stage figure and serialize it to JSON (what
  ``st.plotly_chart`` sends), i.e. what a user waits for on a cold cache;
* **stage switch**: with the recording cached, build one stage's figure and serialize it; the
  median and the slowest over every stage and every color quantity (target < 150 ms at 2250 edges);
* **frames figure**: all stages in one figure (the "keep my camera" mode), built and serialized;
* with ``--browser``: the same end to end in headless Chromium (app started on loopback).

Cases: each shipped checkpoint on its largest fitting sample mesh, and a 2250-edge sample mesh on a
U-Net with MeshCNN's human_seg config (2280 input edges); when no shipped checkpoint has that size,
one with random weights is built for the timing (timings do not depend on the weights).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _ms(t0: float) -> float:
    return 1000 * (time.perf_counter() - t0)


def _human_seg_checkpoint(folder: Path) -> Path:
    import numpy as np

    from meshcnn_core import SegmenterConfig
    from meshcnn_core.checkpoint import build_model, checkpoint_dict, save_checkpoint

    cfg = SegmenterConfig(
        nclasses=8, ncf=(32, 64, 128, 256), pool_res=(1800, 1350, 600), ninput_edges=2280, resblocks=3
    )
    p = folder / "human_seg_config_random.pt"
    save_checkpoint(
        p, checkpoint_dict(build_model(cfg), cfg, [str(i) for i in range(1, 9)], np.zeros(5), np.ones(5))
    )
    return p


def _mesh_for(samples, ninput: int, want: int | None = None):
    from viz_app import catalog

    if want is not None:
        hit = [m for m in samples if catalog.estimated_edges(m) == want]
        if hit:
            return hit[0]
    return catalog.default_mesh(samples, ninput)


def bench_case(ckpt: Path, mesh_entry, repeats: int) -> dict:
    from meshcnn_core import load_mesh
    from viz_app import figures
    from viz_app import service as svc
    from viz_app.colorings import ColorChoice, quantities_for

    t0 = time.perf_counter()
    model = svc.open_model(ckpt, device="cpu")
    t_load = _ms(t0)
    t0 = time.perf_counter()
    mesh = load_mesh(mesh_entry.path, triangulate=True)
    fit = svc.fit_mesh(mesh, [model])
    t_fit = _ms(t0)
    t0 = time.perf_counter()
    res = svc.infer(model, mesh, fitted=fit)
    t_record = _ms(t0)
    rec = res.recording
    t0 = time.perf_counter()
    svc.infer(model, mesh, fitted=fit)  # again: numba kernels compiled, topology cached
    t_warm = _ms(t0)
    t0 = time.perf_counter()
    figures.stage_figure(rec, 0, ColorChoice("activation")).to_json()
    t_fig = _ms(t0)
    colors = quantities_for(rec.task, has_truth=False)
    switch = []
    for _ in range(repeats):
        for k in range(rec.num_stages):
            for q in colors:
                t0 = time.perf_counter()
                js = figures.stage_figure(rec, k, ColorChoice(q, 1)).to_json()
                switch.append(_ms(t0))
    t0 = time.perf_counter()
    frames_js = figures.stages_figure(rec, ColorChoice("activation")).to_json()
    t_frames = _ms(t0)
    return {
        "model": ckpt.stem,
        "mesh": mesh_entry.name,
        "edges": rec.stage(0).num_edges,
        "stages": rec.num_stages,
        "load": t_load,
        "fit": t_fit,
        "record": t_record,
        "warm": t_warm,
        "fig": t_fig,
        "first": t_load + t_fit + t_record + t_fig,
        "switch_med": statistics.median(switch),
        "switch_max": max(switch),
        "json_kb": len(js) / 1024,
        "frames": t_frames,
        "frames_kb": len(frames_js) / 1024,
        "simplified": bool(fit.actions),
    }


def bench_browser(ckpt: Path, mesh_key: str, moves: int = 6) -> tuple[float, list[float], list[float]]:
    """End to end in headless Chromium: seconds to the first result; per slider move, ms until the
    server's new stage caption shows and ms until the app is idle again (the 3D view redrawn)."""
    import shutil

    from viz_app.screenshot import IDLE, app_server, browser_page

    with tempfile.TemporaryDirectory() as d:
        shutil.copy(ckpt, Path(d) / "model.pt")
        with app_server({"MESHCNN_CHECKPOINTS": d}) as url, browser_page() as page:
            t0 = time.perf_counter()
            page.goto(f"{url}/?mesh={mesh_key}")
            page.wait_for_selector("iframe[title*='mesh_view']", timeout=300_000)
            page.wait_for_selector(IDLE, timeout=300_000)
            first = time.perf_counter() - t0
            page.wait_for_timeout(1000)
            slider = page.locator('[data-testid="stSlider"] input[type=range]').first
            caption = (
                "() => (Array.from(document.querySelectorAll('[data-testid=stCaptionContainer]'))"
                ".find(e => e.innerText.includes('channels)')) || {}).innerText"
            )
            times, replies = [], []
            for i in range(moves):
                before = page.evaluate(caption)
                slider.focus()
                t0 = time.perf_counter()
                page.keyboard.press("ArrowRight" if i < moves // 2 else "ArrowLeft")
                page.wait_for_function(f"(old) => ({caption})() !== old", arg=before, timeout=60_000)
                replies.append(_ms(t0))  # the server's new stage caption arrived
                page.wait_for_selector(IDLE, timeout=120_000)
                times.append(_ms(t0))  # ... and the 3D view was drawn (software WebGL here)
    return first, replies, times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--threads", type=int, default=1, help="torch threads (the app uses MESHCNN_THREADS, default 1)"
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--browser", action="store_true", help="also measure end to end in headless Chromium")
    args = ap.parse_args()
    import torch

    torch.set_num_threads(args.threads)
    from viz_app import catalog
    from viz_app import service as svc

    samples = catalog.list_sample_meshes()
    if not samples:
        sys.exit(f"no sample meshes in {catalog.samples_dir()}")
    cases = []
    big = None
    for entry in catalog.list_models():
        model = svc.open_model(entry.path, device="cpu")
        n = int(model.config.ninput_edges)
        cases.append((entry.path, _mesh_for(samples, n)))
        if n >= 2250 and big is None:
            big = entry.path
    with tempfile.TemporaryDirectory() as d:
        note = ""
        if big is None:
            big = _human_seg_checkpoint(Path(d))
            note = " (random weights)"
        cases.append((big, _mesh_for(samples, 2280, want=2250)))
        rows = [bench_case(p, m, args.repeats) for p, m in cases]
        browser = bench_browser(big, cases[-1][1].key) if args.browser else None
    print(f"MeshCNN Explorer, server side, CPU, torch threads {args.threads}; times in ms")
    print(
        "first = load checkpoint + read & fit mesh + record (cold process) + first figure (JSON); "
        "warm = a second recording in the same process; switch = build + serialize one stage figure from the "
        "cached recording (all stages x colors)\n"
    )
    head = (
        "| model | mesh | input edges | stages | load | fit mesh | record (cold / warm) | figure | "
        "**first result** | "
        "**stage switch** median / max | figure JSON | frames figure (all stages) |"
    )
    print(head)
    print("|" + "---|" * 12)
    for r in rows:
        name = r["model"] + (note if r["model"].startswith("human_seg_config_random") else "")
        mesh = r["mesh"] + (" (adapted)" if r["simplified"] else "")
        print(
            f"| {name} | {mesh} | {r['edges']} | {r['stages']} | {r['load']:.0f} | {r['fit']:.0f} | "
            f"{r['record']:.0f} / {r['warm']:.0f} | {r['fig']:.0f} | **{r['first']:.0f}** | "
            f"**{r['switch_med']:.0f}** / "
            f"{r['switch_max']:.0f} | {r['json_kb']:.0f} kB | {r['frames']:.0f} ms, {r['frames_kb']:.0f} kB |"
        )

    if browser is not None:
        first, replies, moves = browser
        print(
            f"\nIn headless Chromium (software WebGL, this machine), {rows[-1]['model']} on "
            f"{rows[-1]['mesh']}: "
            f"first result {first:.1f} s after opening the page (cold server). Stage slider move, "
            f"{len(moves)} moves: the server's reply shows after median {statistics.median(replies):.0f} ms "
            f"(max {max(replies):.0f}); the redrawn 3D view is done after median "
            f"{statistics.median(moves):.0f} ms "
            f"(max {max(moves):.0f}), the difference being WebGL drawing in software (no GPU)."
        )


if __name__ == "__main__":
    main()
