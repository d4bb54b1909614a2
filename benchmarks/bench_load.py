"""A classroom at once: many sessions open the explorer together (no browser; the server's work only).

Run: ``python benchmarks/bench_load.py [--sessions 10 30 100] [--view default] [--view seg]``

Starts the app (``streamlit run viz_app/app.py``) on a loopback port, then for each count N opens N
sessions at the same moment with a small client that speaks Streamlit's websocket protocol (the
protobuf ``BackMsg``/``ForwardMsg`` messages of the installed Streamlit): each sends a page run and
waits for ``script_finished``. Then every session moves the stage slider at the same moment (a widget
change, as a browser sends it) and waits again. Reported per N: page time median/max, stage-change
median/max, failures, server memory (RSS of the server process and its children) after the run.

Views: ``default`` (the landing view: the app's defaults, no query string) and ``seg`` (a 2250-edge
sample on the human-body segmenter). Only loopback is used; every loop is bounded in count and time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
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
TIMEOUT_S = 180.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, env: dict) -> subprocess.Popen:
    cmd = [
        PY,
        "-m",
        "streamlit",
        "run",
        str(ROOT / "viz_app" / "app.py"),
        "--server.port",
        str(port),
        "--server.address",
        "127.0.0.1",
        "--server.headless",
        "true",
    ]
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError("the app did not start within 60 s")


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
    """One client: its websocket, its widget states and what the last run sent."""

    query: str
    ws: object = None
    widgets: dict = field(default_factory=dict)  # widget id -> (proto of the element, kind)
    page_hash: str = ""
    bytes_in: int = 0


def _collect_widgets(msg, sess: Session) -> None:
    """Remember slider widgets (their ids and options) from a delta."""
    if msg.WhichOneof("type") != "delta":
        return
    d = msg.delta
    if d.WhichOneof("type") != "new_element":
        return
    el = d.new_element
    kind = el.WhichOneof("type")
    if kind in ("slider",):
        sess.widgets[el.slider.id] = el.slider


async def run_page(sess: Session, back_msg) -> float:
    """Send one rerun and wait for ``script_finished``. Returns seconds."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

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
        _collect_widgets(msg, sess)
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
    """Widget states that move the stage slider one step (or None when the page has none)."""
    from streamlit.proto.WidgetStates_pb2 import WidgetStates

    for wid, slider in sess.widgets.items():
        if any(wid.endswith("-" + k) or wid.endswith(k) for k in STAGE_KEYS):
            ws = WidgetStates()
            w = ws.widgets.add()
            w.id = wid
            options = list(slider.options)
            current = list(slider.value or slider.default)
            nxt = (int(current[0]) + 1) % max(len(options), 1) if options else int(current[0]) + 1
            w.double_array_value.data.extend([float(nxt)])
            return ws
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
            states = stage_change(sess)
            await start_stage.wait()
            if states is None:
                out["stage_error"] = "no stage slider found"
            else:
                try:
                    before = sess.bytes_in
                    out["stage"] = await run_page(sess, rerun_msg(sess, states))
                    out["stage_bytes"] = sess.bytes_in - before
                except Exception as exc:  # noqa: BLE001
                    out["stage_error"] = f"{type(exc).__name__}: {exc}"[:200]
    except Exception as exc:  # noqa: BLE001 - a failed session is a result, reported in the table
        out["error"] = f"{type(exc).__name__}: {exc}"[:200]
        if not signalled:
            await pages_done.put(1)
    return out


async def measure(port: int, query: str, n: int) -> list[dict]:
    """N sessions: all open the page at once; when all have it, all change stage at once."""
    start, start_stage = asyncio.Event(), asyncio.Event()
    done: asyncio.Queue = asyncio.Queue()
    tasks = [asyncio.create_task(one_session(port, query, start, done, start_stage)) for _ in range(n)]
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
    return list(await asyncio.gather(*tasks))


def summarize(view: str, n: int, results: list[dict], mem: float) -> str:
    pages = [r["page"] for r in results if r.get("page") is not None]
    stages = [r["stage"] for r in results if r.get("stage") is not None]
    fails = sum(1 for r in results if r.get("error") or r.get("stage_error"))
    kb = statistics.median([r.get("bytes", 0) for r in results if r.get("bytes")] or [0]) / 1024
    skb = statistics.median([r.get("stage_bytes", 0) for r in results if r.get("stage_bytes")] or [0]) / 1024

    def fmt(xs):
        return f"{statistics.median(xs):.2f} / {max(xs):.2f}" if xs else "-"

    return f"| {view} | {n} | {fmt(pages)} | {fmt(stages)} | {fails} | {kb:.0f} | {skb:.0f} | {mem:.0f} |"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sessions", type=int, nargs="+", default=[1, 10, 30, 100])
    p.add_argument("--view", action="append", choices=sorted(VIEWS), help="default: both")
    a = p.parse_args()
    views = a.view or ["default", "seg"]
    env = dict(os.environ)
    port = free_port()
    proc = start_server(port, env)
    print(
        f"server pid {proc.pid} on 127.0.0.1:{port}; {os.cpu_count()} cores; load average "
        f"{os.getloadavg()[0]:.1f} before the run"
    )
    print(
        "\n| view | sessions | page s (median / max) | stage change s (median / max) | failed | "
        "page KB | stage KB | server MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for view in views:
            # warm the caches once (the first visitor pays for the forward pass)
            asyncio.run(measure(port, VIEWS[view], 1))
            for n in a.sessions:
                results = asyncio.run(measure(port, VIEWS[view], n))
                print(summarize(view, n, results, rss_mb(proc.pid)), flush=True)
                errs = {r.get("error") or r.get("stage_error") for r in results} - {None}
                for e in sorted(errs)[:3]:
                    print(f"  error: {e}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
