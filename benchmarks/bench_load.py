"""A classroom at once: many sessions open the explorer together (no browser; the server's work only).

Run: ``python benchmarks/bench_load.py [--sessions 1 10 30 100] [--view default] [--view seg]
[--compare OTHER_TREE] [--repeat 2]``

Starts the app (``streamlit run viz_app/app.py`` from the app's folder, so its ``.streamlit/config.toml``
applies, as with ``make app``) on a loopback port, then for each count N opens N sessions at the same
moment with a small client that speaks Streamlit's websocket protocol (the protobuf
``BackMsg``/``ForwardMsg`` messages of the installed Streamlit): each sends a page run and waits for
``script_finished``. Then every session moves the stage slider one step at the same moment (a widget
change, as a browser sends it) and waits again; a stage change counts only when the page it gets back
names the new stage in the stage view's caption and sends a different 3D figure. Reported per N: page
time median/max, stage-change median/max, failed sessions (no page, no stage change, or a stage change
that did not change the stage), the median bytes sent per page and per stage change, the server's
peak memory during the run (RSS of the server process and its children) and the load average.

Views: ``default`` (the landing view: the app's defaults, no query string) and ``seg`` (a 2250-edge
sample on the human-body segmenter). ``--compare DIR`` starts a second server from another app tree
(e.g. a copy of the code before a change, with the same checkpoints) and measures the two in turns
(A, B, A, B, ...) so both see the same machine load. Only loopback is used; every loop is bounded in
count and time, and the servers are stopped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
VIEWS = {
    "default": "",
    "seg": "model=shipped%3Ahuman_seg_segmenter.pt&mesh=sample%3Aant_2250.obj",
}
STAGE_KEYS = ("stage", "compare_stage")  # the user keys of the stage sliders (explore, compare)
STAGE_CAPTION = re.compile(r"\*\*((?:input|pool \d+|unpool \d+) · \d+ edges)\*\*")  # explore's stage view
TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One app server under test: a label, its process and its loopback port."""

    label: str
    proc: subprocess.Popen
    port: int


def start_server(root: Path, label: str, extra: list[str]) -> Server:
    """Start ``streamlit run ROOT/viz_app/app.py`` from ``root`` on a free loopback port."""
    port = free_port()
    cmd = [PY, "-m", "streamlit", "run", str(root / "viz_app" / "app.py")]
    cmd += ["--server.port", str(port), "--server.address", "127.0.0.1", "--server.headless", "true", *extra]
    proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 90
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return Server(label, proc, port)
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"the app in {root} did not start within 90 s")


def stop_server(server: Server) -> None:
    server.proc.terminate()
    try:
        server.proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.proc.kill()


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, MB (from /proc)."""
    total = 0
    pids = [pid]
    try:
        out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout
        pids += [int(p) for p in out.split()]
    except OSError:
        pass
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            pass
    return total / 1024


@dataclass
class Session:
    """One client: its websocket, the sliders and stage view of the last run, and the bytes received."""

    query: str
    ws: object = None
    widgets: dict = field(default_factory=dict)  # widget id -> the slider's proto
    page_hash: str = ""
    bytes_in: int = 0
    stage_text: str | None = None  # the stage named in the stage view's caption
    figures: list = field(default_factory=list)  # digests of the 3D views' arguments, in page order


def _collect(msg, sess: Session) -> None:
    """Remember sliders, the stage view's caption and the 3D views' figures from a delta."""
    if msg.WhichOneof("type") != "delta" or msg.delta.WhichOneof("type") != "new_element":
        return
    el = msg.delta.new_element
    kind = el.WhichOneof("type")
    if kind == "slider":
        sess.widgets[el.slider.id] = el.slider
    elif kind == "markdown" and (m := STAGE_CAPTION.search(el.markdown.body)):
        sess.stage_text = m.group(1)
    elif kind == "component_instance":
        sess.figures.append(hashlib.blake2b(el.component_instance.json_args.encode(), digest_size=8).digest())


async def run_page(sess: Session, back_msg) -> float:
    """Send one rerun and wait for ``script_finished``. Returns seconds."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    sess.stage_text, sess.figures = None, []
    t0 = time.perf_counter()
    await sess.ws.send(back_msg.SerializeToString())
    while True:
        raw = await asyncio.wait_for(sess.ws.recv(), timeout=TIMEOUT_S)
        sess.bytes_in += len(raw)
        msg = ForwardMsg()
        msg.ParseFromString(raw)
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            sess.page_hash = msg.new_session.page_script_hash or sess.page_hash
        _collect(msg, sess)
        if kind == "script_finished":
            status = msg.script_finished
            if status in (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY):
                return time.perf_counter() - t0
            if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                continue
            raise RuntimeError(f"script finished with status {status}")


def rerun_msg(sess: Session, widget_states=None):
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ClientState_pb2 import ClientState

    cs = ClientState(query_string=sess.query, page_script_hash=sess.page_hash)
    if widget_states is not None:
        cs.widget_states.CopyFrom(widget_states)
    return BackMsg(rerun_script=cs)


def stage_change(sess: Session):
    """``(widget states that move the stage slider one step, the new stage's label)``, or None."""
    from streamlit.proto.WidgetStates_pb2 import WidgetStates

    for wid, slider in sess.widgets.items():
        if any(wid.endswith("-" + k) or wid.endswith(k) for k in STAGE_KEYS):
            ws = WidgetStates()
            w = ws.widgets.add()
            w.id = wid
            options = list(slider.options)
            if options:  # a select_slider: its value travels as the formatted option (raw_value)
                current = options.index(slider.raw_value[0]) if slider.raw_value else int(slider.default[0])
                label = options[(current + 1) % len(options)]
                w.string_array_value.data.extend([label])
                return ws, label
            current = list(slider.value or slider.default)
            w.double_array_value.data.extend([float(current[0]) + 1])
            return ws, None
    return None


async def one_session(
    port: int, query: str, start: asyncio.Event, pages_done: asyncio.Queue, start_stage: asyncio.Event
) -> dict:
    """Open the page when ``start`` fires; move the stage slider when ``start_stage`` fires."""
    import websockets

    sess = Session(query)
    out: dict = {"page": None, "stage": None, "error": None, "stage_error": None}
    signalled = False
    try:
        async with websockets.connect(
            f"ws://127.0.0.1:{port}/_stcore/stream",
            subprotocols=["streamlit"],
            max_size=2**28,
            open_timeout=TIMEOUT_S,
        ) as ws:
            sess.ws = ws
            await start.wait()
            try:
                out["page"] = await run_page(sess, rerun_msg(sess))
                out["bytes"] = sess.bytes_in
            finally:
                signalled = True
                await pages_done.put(1)
            change = stage_change(sess)
            before = (sess.stage_text, list(sess.figures))
            await start_stage.wait()
            if change is None:
                out["stage_error"] = "no stage slider found"
            else:
                states, label = change
                try:
                    n0 = sess.bytes_in
                    t = await run_page(sess, rerun_msg(sess, states))
                    out["stage_bytes"] = sess.bytes_in - n0
                    if label is not None and (sess.stage_text != label or sess.stage_text == before[0]):
                        out["stage_error"] = f"stage view shows {sess.stage_text!r}, expected {label!r}"
                    elif not sess.figures or sess.figures[0] in before[1]:
                        out["stage_error"] = "the stage view's 3D figure did not change"
                    else:
                        out["stage"] = t
                except Exception as exc:  # noqa: BLE001
                    out["stage_error"] = f"{type(exc).__name__}: {exc}"[:200]
    except Exception as exc:  # noqa: BLE001 - a failed session is a result, reported in the table
        out["error"] = f"{type(exc).__name__}: {exc}"[:200]
        if not signalled:
            await pages_done.put(1)
    return out


async def measure(server: Server, query: str, n: int) -> tuple[list[dict], float]:
    """N sessions: all open the page at once; when all have it, all change stage at once.

    Returns the sessions' results and the server's peak memory (MB) during the run.
    """
    start, start_stage = asyncio.Event(), asyncio.Event()
    done: asyncio.Queue = asyncio.Queue()
    peak = [rss_mb(server.proc.pid)]
    stop = asyncio.Event()

    async def sample_memory():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mb(server.proc.pid))
            await asyncio.sleep(0.25)

    sampler = asyncio.create_task(sample_memory())
    tasks = [
        asyncio.create_task(one_session(server.port, query, start, done, start_stage)) for _ in range(n)
    ]
    await asyncio.sleep(1.0 + n * 0.02)  # all connected before the starting gun
    start.set()
    t_end = time.time() + TIMEOUT_S
    got = 0
    while got < n and time.time() < t_end:
        try:
            await asyncio.wait_for(done.get(), timeout=max(0.1, t_end - time.time()))
            got += 1
        except asyncio.TimeoutError:
            break
    await asyncio.sleep(0.5)
    start_stage.set()
    results = list(await asyncio.gather(*tasks))
    stop.set()
    await sampler
    return results, max(peak[0], rss_mb(server.proc.pid))


def summarize(label: str, view: str, n: int, results: list[dict], mem: float, load: float) -> str:
    pages = [r["page"] for r in results if r.get("page") is not None]
    stages = [r["stage"] for r in results if r.get("stage") is not None]
    fails = sum(1 for r in results if r.get("error") or r.get("stage_error"))
    kb = statistics.median([r.get("bytes", 0) for r in results if r.get("bytes")] or [0]) / 1024
    skb = statistics.median([r.get("stage_bytes", 0) for r in results if r.get("stage_bytes")] or [0]) / 1024

    def fmt(xs):
        return f"{statistics.median(xs):.2f} / {max(xs):.2f}" if xs else "-"

    return (
        f"| {label} | {view} | {n} | {fmt(pages)} | {fmt(stages)} | {fails} | {kb:.0f} | {skb:.0f} | "
        f"{mem:.0f} | {load:.1f} |"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30, 100])
    p.add_argument("--view", action="append", choices=sorted(VIEWS), help="default: both")
    p.add_argument("--app", type=Path, default=ROOT, help="the app tree to measure (default: this one)")
    p.add_argument("--label", default="this", help="its name in the table")
    p.add_argument("--compare", type=Path, help="another app tree, measured in turns with --app")
    p.add_argument("--compare-label", default="other")
    p.add_argument("--repeat", type=int, default=1, help="measure each row this many times")
    p.add_argument("--streamlit-arg", action="append", default=[], help="extra streamlit flag (repeatable)")
    a = p.parse_args()
    views = a.view or ["default", "seg"]
    extra = [x for arg in a.streamlit_arg for x in arg.split("=", 1)]
    servers = [start_server(a.app.resolve(), a.label, extra)]
    try:
        if a.compare:
            servers.append(start_server(a.compare.resolve(), a.compare_label, extra))
        print(
            f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} before the run; servers: "
            + ", ".join(f"{s.label} (pid {s.proc.pid}, 127.0.0.1:{s.port})" for s in servers)
        )
        print(
            "\n| server | view | sessions | page s (median / max) | stage change s (median / max) | failed | "
            "page KB | stage KB | server MB (peak) | load avg |"
        )
        print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|")
        for view in views:
            for s in servers:  # warm the caches once (the first visitor pays for the forward pass)
                asyncio.run(measure(s, VIEWS[view], 1))
            for n in a.sessions:
                for _ in range(a.repeat):
                    for s in servers:
                        load = os.getloadavg()[0]
                        results, mem = asyncio.run(measure(s, VIEWS[view], n))
                        print(summarize(s.label, view, n, results, mem, load), flush=True)
                        errs = {r.get("error") or r.get("stage_error") for r in results} - {None}
                        for e in sorted(errs)[:3]:
                            print(f"  error: {e}")
    finally:
        for s in servers:
            stop_server(s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
