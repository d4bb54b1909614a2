"""Hostile inputs: every bad mesh or checkpoint gets a clear one-line answer, never a traceback.

The corpus is generated here, in temporary folders. Each case runs through the command line's
``main`` with and without ``--repair`` (in this process, under an alarm, since a Python start-up
with torch costs seconds on a shared machine), a representative subset through the real
``python -m meshcnn_core`` in a subprocess with a timeout, and through the library, which must
raise only ``MeshError``/``CheckpointError``.
"""

from __future__ import annotations

import contextlib
import io
import os
import pickle
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from meshcnn_core import ClassifierConfig, SegmenterConfig
from meshcnn_core.__main__ import main as cli_main
from meshcnn_core.checkpoint import build_model, checkpoint_dict, load_model, save_checkpoint
from meshcnn_core.errors import CheckpointError, MeshError
from meshcnn_core.inference import record
from meshcnn_core.mesh.io import Mesh, load_mesh, write_obj
from meshcnn_core.mesh.repair import (
    MAX_REPAIR_FACES,
    ActionKind,
    check_mesh,
    preflight,
    preflight_for_model,
    require_ready,
)

from .meshes import icosphere, tetrahedron, torus

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "sample_meshes"
CLI_TIMEOUT = 90  # seconds; a hang fails the test instead of blocking the suite
# the tiny model: a mesh must have 1000 < E <= 1500 edges (ico(3) has 1920, so --repair simplifies)
NINPUT, POOL0 = 1500, 1000


# ---------------------------------------------------------------- the corpus


def _ico(s: int = 3, seed: int = 0) -> Mesh:
    return icosphere(s, jitter=0.02, seed=seed)


def fin_mesh() -> Mesh:
    """A closed icosphere plus one triangle hanging off an edge: that edge has three faces."""
    m = _ico()
    a, b = m.faces[0, :2]
    tip = (m.vertices[a] + m.vertices[b]) * 0.75 + 0.1
    return Mesh(np.vstack([m.vertices, tip]), np.vstack([m.faces, [[a, b, len(m.vertices)]]]), "fin")


def bowtie_mesh() -> Mesh:
    """Two closed spheres touching at one vertex (a bow-tie vertex)."""
    a, b = _ico(3, 1), _ico(3, 2)
    vb = -b.vertices
    vb = vb + (a.vertices[0] - vb[0])
    v = np.vstack([a.vertices, vb[1:]])
    ids = np.concatenate([[0], len(a.vertices) + np.arange(len(vb) - 1)])
    return Mesh(v, np.vstack([a.faces, ids[b.faces[:, [0, 2, 1]]]]), "bowtie")


def pinched_mesh() -> Mesh:
    """One closed surface pinched at a vertex: a bow-tie inside a single piece (as in some human_seg
    meshes, which MeshCNN takes as they are)."""
    m = preflight(_ico(), target_edges=NINPUT).mesh
    v = m.vertices
    # glue two far-apart vertices: replace vertex j by vertex i everywhere
    i, j = 0, int(np.argmin(v @ v[0]))  # the antipode
    f = np.where(m.faces == j, i, m.faces)
    return Mesh(v, f, "pinched")


def duplicate_faces_mesh() -> Mesh:
    m = _ico()
    return Mesh(m.vertices, np.vstack([m.faces, m.faces[:7], m.faces[10:12, [0, 2, 1]]]), "duplicates")


def zero_area_mesh() -> Mesh:
    """A closed mesh with a sliver: one triangle split at an edge midpoint, plus the flat face."""
    m = _ico()
    v, f = m.vertices, m.faces
    a, b, c = f[0]
    mid = len(v)
    v = np.vstack([v, (v[a] + v[b]) / 2])
    f = np.vstack([f[1:], [[a, mid, c], [mid, b, c], [a, b, mid]]])
    return Mesh(v, f, "zero_area")


def nan_mesh(value: float = np.nan) -> Mesh:
    m = _ico()
    v = m.vertices.copy()
    v[5] = value
    return Mesh(v, m.faces, "nan")


def sheet_mesh(n: int = 30) -> Mesh:
    """An open, wavy square sheet (3 (n-1)^2 + 2 (n-1) edges)."""
    i, j = np.meshgrid(np.arange(n), np.arange(n), indexing="ij")
    v = np.stack([i.ravel(), j.ravel(), 0.3 * np.sin(i.ravel() * 0.7) * np.cos(j.ravel() * 0.5)], 1).astype(
        float
    )
    a = (i[:-1, :-1] * n + j[:-1, :-1]).ravel()
    f = np.concatenate([np.stack([a, a + n, a + n + 1], 1), np.stack([a, a + n + 1, a + 1], 1)])
    return Mesh(v, f, "sheet")


def components_mesh() -> Mesh:
    """A sphere and 20 small tetrahedra beside it."""
    m = _ico()
    vs, fs, off = [m.vertices], [m.faces], len(m.vertices)
    for k in range(20):
        t = tetrahedron(0.1)
        vs.append(t.vertices + [3.0 + k, 0.0, 0.0])
        fs.append(t.faces + off)
        off += 4
    return Mesh(np.vstack(vs), np.vstack(fs), "components")


def flipped_mesh() -> Mesh:
    m = _ico()
    f = m.faces.copy()
    f[::5] = f[::5][:, [0, 2, 1]]
    return Mesh(m.vertices, f, "flipped")


def quad_obj_text(n_major: int = 30, n_minor: int = 14) -> str:
    """A torus of quads with one hexagon (two quads merged... as a 6-gon fan) and some triangles."""
    rng = np.random.default_rng(0)
    u = 2 * np.pi * np.arange(n_major) / n_major
    w = 2 * np.pi * np.arange(n_minor) / n_minor
    r = 0.35 * (1 + 0.03 * rng.standard_normal((n_major, n_minor)))
    x = (1 + r * np.cos(w)[None]) * np.cos(u)[:, None]
    y = (1 + r * np.cos(w)[None]) * np.sin(u)[:, None]
    z = r * np.sin(w)[None]
    v = np.stack([x, y, z], -1).reshape(-1, 3)
    idx = lambda a, b: (a % n_major) * n_minor + (b % n_minor) + 1  # noqa: E731
    lines = [f"v {p[0]:.8f} {p[1]:.8f} {p[2]:.8f}" for p in v]
    for a in range(n_major):
        for b in range(n_minor):
            if a == 0 and b in (0, 1):
                continue
            lines.append(f"f {idx(a, b)} {idx(a + 1, b)} {idx(a + 1, b + 1)} {idx(a, b + 1)}")
    # the two skipped quads as one hexagon
    lines.append(f"f {idx(0, 0)} {idx(1, 0)} {idx(1, 1)} {idx(1, 2)} {idx(0, 2)} {idx(0, 1)}")
    return "\n".join(lines) + "\n"


def big_ply(path: Path) -> int:
    """A 1.3-million-face icosphere (8 subdivisions) as binary PLY; returns the face count."""
    import trimesh

    s = trimesh.creation.icosphere(subdivisions=8)
    rng = np.random.default_rng(0)
    v = s.vertices * (1 + 0.001 * rng.standard_normal((len(s.vertices), 1)))
    trimesh.Trimesh(v, s.faces, process=False).export(path)
    return len(s.faces)


@dataclass(frozen=True)
class Case:
    """One bad input: how to write it, and what record / record --repair must do."""

    name: str
    filename: str
    plain: str  # "error" or "ok" for ``record``
    repaired: str  # "error" or "ok" for ``record --repair``
    words: tuple[str, ...] = ()  # words the plain error message must contain


MESH_CASES = [
    Case("empty", "empty.obj", "error", "error", ("empty",)),
    Case("random_obj", "noise.obj", "error", "error"),
    Case("random_ply", "noise.ply", "error", "error"),
    Case("random_stl", "noise.stl", "error", "error"),
    Case("nan", "nan.obj", "error", "ok", ("nan",)),
    Case("inf", "inf.obj", "error", "ok", ("infinite",)),
    Case("all_nan", "all_nan.obj", "error", "error", ("nan",)),
    Case("single_triangle", "triangle.obj", "error", "ok"),  # subdivided, then simplified
    Case("open_sheet", "sheet.obj", "error", "ok", ("at most",)),  # borders kept
    Case("fin", "fin.obj", "error", "ok", ("non-manifold",)),
    Case("bowtie", "bowtie.obj", "error", "ok", ("pieces",)),
    Case("pinched", "pinched.obj", "ok", "ok"),
    Case("duplicate_faces", "duplicates.obj", "error", "ok", ("duplicate",)),
    Case("zero_area", "zero_area.obj", "error", "ok", ("zero area",)),
    Case("flipped", "flipped.obj", "error", "ok", ("winding",)),
    Case("quads_ngons", "quads.obj", "error", "ok", ("corners",)),
    Case("too_small", "small.obj", "error", "ok", ("fewer",)),  # subdivided
    Case("components", "components.obj", "error", "ok", ("pieces",)),
    Case("bad_index", "bad_index.obj", "error", "error", ("vertex",)),
    Case("text_garbage", "garbage.off", "error", "error"),
    Case("lying_ply_header", "lying.ply", "error", "error"),
    Case("lying_off_header", "lying.off", "error", "error"),
    Case("wrong_extension", "mesh.xyz", "error", "error", ("unsupported",)),
    Case("missing_file", "does_not_exist.obj", "error", "error", ("no such",)),
]


def _write_corpus(d: Path) -> None:
    rng = np.random.default_rng(123)
    (d / "empty.obj").write_bytes(b"")
    for name in ("noise.obj", "noise.ply", "noise.stl"):
        (d / name).write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    write_obj(d / "nan.obj", nan_mesh(np.nan))
    write_obj(d / "inf.obj", nan_mesh(np.inf))
    m = _ico()
    write_obj(d / "all_nan.obj", Mesh(np.full_like(m.vertices, np.nan), m.faces))
    (d / "triangle.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 3\n")
    write_obj(d / "sheet.obj", sheet_mesh())
    write_obj(d / "fin.obj", fin_mesh())
    write_obj(d / "bowtie.obj", bowtie_mesh())
    write_obj(d / "pinched.obj", pinched_mesh())
    write_obj(d / "duplicates.obj", duplicate_faces_mesh())
    write_obj(d / "zero_area.obj", zero_area_mesh())
    write_obj(d / "flipped.obj", flipped_mesh())
    (d / "quads.obj").write_text(quad_obj_text())
    write_obj(d / "small.obj", _ico(2))
    write_obj(d / "components.obj", components_mesh())
    (d / "bad_index.obj").write_text("v 0 0 0\nv 1 0 0\nv 0 1 0\nf 1 2 7\n")
    (d / "garbage.off").write_text("OFF\n3 1 0\n0 0 0\n1 0\nbanana\n")
    (d / "mesh.xyz").write_text("1 2 3\n")
    # headers that promise two billion elements: refused at once, nothing huge allocated
    (d / "lying.ply").write_bytes(
        b"ply\nformat binary_little_endian 1.0\nelement vertex 2000000000\nproperty float x\nproperty float "
        b"y\n"
        b"property float z\nelement face 2000000000\nproperty list uchar int "
        b"vertex_indices\nend_header\n" + bytes(100)
    )
    (d / "lying.off").write_text("OFF\n2000000000 2000000000 0\n0 0 0\n")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("bad_meshes")
    _write_corpus(d)
    return d


def _save_tiny(path: Path, config=None, seed: int = 0) -> None:
    config = config or ClassifierConfig(
        nclasses=3, ncf=(8, 16), pool_res=(POOL0, 700), ninput_edges=NINPUT, num_groups=4
    )
    torch.manual_seed(seed)
    net = build_model(config)
    save_checkpoint(
        path, checkpoint_dict(net, config, [f"c{i}" for i in range(config.nclasses)], np.zeros(5), np.ones(5))
    )


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("ckpt") / "tiny.pt"
    _save_tiny(path)
    return path


@dataclass(frozen=True)
class Run:
    rc: int
    out: str
    err: str
    seconds: float


def run_cli(*args: str, timeout: float = CLI_TIMEOUT) -> Run:
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    t0 = time.perf_counter()
    p = subprocess.run(
        [sys.executable, "-m", "meshcnn_core", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env=env,
    )
    return Run(p.returncode, p.stdout, p.stderr, time.perf_counter() - t0)


class _Timeout(Exception):
    pass


def run_main(*args: str, timeout: int = CLI_TIMEOUT) -> Run:
    """The CLI's ``main`` in this process, stdout/stderr captured, bounded by an alarm."""

    def _alarm(signum, frame):
        raise _Timeout(f"the CLI took more than {timeout} s: {args}")

    out, err = io.StringIO(), io.StringIO()
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(timeout)
    t0 = time.perf_counter()
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = cli_main(list(args))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    return Run(rc, out.getvalue(), err.getvalue(), time.perf_counter() - t0)


def assert_one_line_error(run: Run, *words: str) -> str:
    lines = run.err.strip().splitlines()
    assert run.rc == 2, f"exit {run.rc}; stderr: {run.err[-2000:]}"
    assert len(lines) == 1 and lines[0].startswith("error: "), f"stderr was: {run.err[-2000:]}"
    for w in words:
        assert w.lower() in lines[0].lower(), f"{w!r} not in {lines[0]!r}"
    return lines[0]


def _record_args(tiny: Path, mesh: Path, out: Path | None, repair: bool) -> list[str]:
    args = ["record", "--model", str(tiny), "--mesh", str(mesh), "--device", "cpu"]
    return args + (["--out", str(out)] if out else []) + (["--repair"] if repair else [])


def _check_run(case: Case, repair: bool, run: Run) -> None:
    expect = case.repaired if repair else case.plain
    assert "Traceback" not in run.err
    if expect == "error":
        assert_one_line_error(run, *([] if repair else case.words))
    else:
        assert run.rc == 0, run.err[-2000:]
        assert run.err.strip() == ""
        assert "recording written" in run.out
        if repair:
            assert "repair: " in run.out


@pytest.mark.parametrize("repair", [False, True], ids=["plain", "repair"])
@pytest.mark.parametrize("case", MESH_CASES, ids=lambda c: c.name)
def test_cli_record(case, repair, corpus, tiny, tmp_path):
    run = run_main(*_record_args(tiny, corpus / case.filename, tmp_path / "r.npz", repair))
    _check_run(case, repair, run)
    assert run.seconds < 30


SUBPROCESS_CASES = [("empty", False), ("random_stl", False), ("components", False), ("fin", True)]


def test_cli_record_subprocess(corpus, tiny, tmp_path):
    """The real ``python -m meshcnn_core``: exit codes and stderr as a user sees them."""
    cases = {c.name: c for c in MESH_CASES}
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(
            pool.map(
                lambda nr: run_cli(
                    *_record_args(tiny, corpus / cases[nr[0]].filename, tmp_path / f"{nr[0]}.npz", nr[1])
                ),
                SUBPROCESS_CASES,
            )
        )
    for (name, repair), run in zip(SUBPROCESS_CASES, runs):
        _check_run(cases[name], repair, run)


def test_cli_repair_command(corpus, tiny, tmp_path):
    out = tmp_path / "fixed.obj"
    run = run_main("repair", "--mesh", str(corpus / "quads.obj"), "--out", str(out), "--model", str(tiny))
    assert run.rc == 0, run.err
    assert "triangulated 419 polygons" in run.out
    m = load_mesh(out)
    chk = check_mesh(m)
    assert not chk.problems and POOL0 <= chk.num_edges <= NINPUT
    run = run_main("repair", "--mesh", str(corpus / "components.obj"), "--out", str(out), "--refuse-pieces")
    assert_one_line_error(run, "pieces")
    run = run_main("repair", "--mesh", str(corpus / "fin.obj"), "--out", str(tmp_path / "x.ply"))
    assert_one_line_error(run, "obj")
    run = run_main("repair", "--mesh", str(corpus / "fin.obj"), "--out", str(tmp_path / "no_dir" / "x.obj"))
    assert_one_line_error(run)
    run = run_main("repair", "--mesh", str(corpus / "fin.obj"), "--out", str(out), "--edges", "900")
    assert run.rc == 0 and 891 <= check_mesh(load_mesh(out)).num_edges <= 900


# ---------------------------------------------------------------- meshes through the library

LIB_MESHES = {
    "nan": lambda: nan_mesh(np.nan),
    "inf": lambda: nan_mesh(np.inf),
    "single_triangle": lambda: Mesh(np.eye(3), [[0, 1, 2]]),
    "open_sheet": sheet_mesh,
    "fin": fin_mesh,
    "bowtie": bowtie_mesh,
    "pinched": pinched_mesh,
    "duplicate_faces": duplicate_faces_mesh,
    "zero_area": zero_area_mesh,
    "flipped": flipped_mesh,
    "too_small": lambda: _ico(2),
    "components": components_mesh,
    "all_degenerate": lambda: Mesh(np.zeros((3, 3)), [[0, 1, 2], [0, 2, 1]]),
    "bad_index": lambda: Mesh(np.eye(3), [[0, 1, 5]]),
    "collinear": lambda: Mesh(np.array([[0, 0, 0], [1, 0, 0], [2, 0, 0.0]]), [[0, 1, 2]]),
}
REPAIRABLE = {
    "nan",
    "inf",
    "fin",
    "bowtie",
    "pinched",
    "duplicate_faces",
    "zero_area",
    "flipped",
    "components",
    "open_sheet",
    "too_small",
    "single_triangle",
}


@pytest.fixture(scope="module")
def tiny_model(tiny):
    return load_model(tiny, device="cpu")


@pytest.mark.parametrize("name", sorted(LIB_MESHES))
def test_library_raises_only_mesh_error(name, tiny_model):
    mesh = LIB_MESHES[name]()
    # the model itself: a result or a MeshError, nothing else
    try:
        record(tiny_model, mesh)
    except MeshError:
        pass
    if name != "pinched":
        with pytest.raises(MeshError):
            require_ready(mesh, max_edges=NINPUT, min_edges=POOL0)
    if name in REPAIRABLE:
        res = preflight_for_model(mesh, tiny_model)
        assert res.actions and res.changed
        chk = check_mesh(res.mesh)
        assert not chk.problems and chk.nonmanifold_vertices == 0
        assert POOL0 <= res.num_edges <= NINPUT
        record(tiny_model, res.mesh)
    else:
        with pytest.raises(MeshError) as exc:
            preflight_for_model(mesh, tiny_model)
        assert "\n" not in str(exc.value)


def test_preflight_messages_say_where_and_how_many():
    kept = preflight(sheet_mesh())
    assert kept.steps[0].kind == ActionKind.OPEN_BORDERS and not kept.changed
    assert kept.actions[0].startswith("kept 1 open border (116 boundary edges) as they are")
    with pytest.raises(MeshError, match=r"21 separate pieces"):
        preflight(components_mesh(), component="refuse")
    sub = preflight(_ico(2), min_edges=1000)
    assert sub.steps[0].kind == ActionKind.SUBDIVIDE and sub.steps[0].count == 1 and sub.num_edges == 4 * 480
    holed = Mesh(_ico().vertices, _ico().faces[1:], "holed")
    filled = preflight(holed, fill_holes=True)
    assert "filled 1 open border (3 boundary edges) with 1 new faces (MeshFix)" in filled.actions
    assert check_mesh(filled.mesh).boundary_edges == 0
    assert check_mesh(preflight(holed).mesh).boundary_edges == 3


def test_nonmanifold_edge_cut_apart_when_no_face_dangles():
    """Two closed spheres sharing one edge: no face dangles, so MeshFix cuts them apart."""
    a, b = _ico(2, 1), _ico(2, 2)
    e0, e1 = a.faces[0, 0], a.faces[0, 1]
    vb = -b.vertices
    # move b so that its edge (f0[0], f0[1]) lands on a's edge (e0, e1), mirrored
    b0, b1 = b.faces[0, 0], b.faces[0, 1]
    vb = vb - vb[b0] + a.vertices[e1]
    vb[b1] = a.vertices[e0]
    ids = len(a.vertices) + np.arange(len(vb))
    ids[b0], ids[b1] = e1, e0
    v = np.vstack([a.vertices, vb])
    mesh = Mesh(v, np.vstack([a.faces, ids[b.faces[:, [0, 2, 1]]]]), "book")
    res = preflight(mesh)  # MeshFix cuts the surfaces apart; the larger piece is kept
    nm = [a for a in res.steps if a.kind == ActionKind.NONMANIFOLD_EDGES]
    assert len(nm) == 1 and nm[0].count == 1 and "MeshFix" in nm[0].words and len(nm[0].where) == 1
    chk = check_mesh(res.mesh)
    assert not chk.problems and chk.boundary_edges == 0 and chk.num_edges == 480


def test_triangulating_loader_notes(tmp_path):
    p = tmp_path / "q.obj"
    p.write_text(quad_obj_text())
    with pytest.raises(MeshError, match="corners"):
        load_mesh(p)
    m = load_mesh(p, triangulate=True)
    assert any("triangulated" in n for n in m.notes)
    assert len(m.faces) == 2 * (30 * 14 - 2) + 4


def test_oversized_input_refused_fast():
    big = Mesh(np.zeros((3, 3)), np.zeros((MAX_REPAIR_FACES + 1, 3), dtype=np.int64), "huge")
    t0 = time.perf_counter()
    with pytest.raises(MeshError, match="more than"):
        preflight(big, target_edges=750)
    with pytest.raises(MeshError, match="model takes at most 750"):
        require_ready(big, max_edges=750)
    assert time.perf_counter() - t0 < 2.0


@pytest.mark.slow
def test_million_faces_cli(tmp_path, tiny):
    path = tmp_path / "big.ply"
    n = big_ply(path)
    assert n > 1_000_000
    plain = run_cli("record", "--model", str(tiny), "--mesh", str(path), "--device", "cpu")
    assert_one_line_error(plain, "at most")
    # bounds that catch a hang, not speed goals (those live in benchmarks/bench_simplify.py)
    assert plain.seconds < 120, plain.seconds
    rep = run_cli("record", "--model", str(tiny), "--mesh", str(path), "--device", "cpu", "--repair")
    assert rep.rc == 0, rep.err
    assert "simplified by quadric decimation" in rep.out
    assert rep.seconds < 300, rep.seconds


# ---------------------------------------------------------------- untrusted checkpoints

MARKER_NAME = "pwned.txt"


class _Evil:
    """Unpickling this would create a file: the code-execution test's side effect."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (Path(self.marker),))


def _checkpoint_cases(d: Path, tiny: Path) -> dict[str, tuple[Path, str]]:
    cases = {}
    marker = d / MARKER_NAME
    p = d / "evil.pt"
    torch.save({"format": "meshcnn-explorer-checkpoint", "model": _Evil(str(marker))}, p)
    cases["pickle_code"] = (p, "")
    p = d / "evil_plain.pt"
    p.write_bytes(pickle.dumps(_Evil(str(marker))))
    cases["plain_pickle_code"] = (p, "")
    p = d / "truncated.pt"
    data = tiny.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    cases["truncated"] = (p, "")
    p = d / "empty.pt"
    p.write_bytes(b"")
    cases["empty"] = (p, "")
    ckpt = torch.load(tiny, weights_only=True)
    other = SegmenterConfig(nclasses=3, ncf=(8, 8, 8), pool_res=(1000, 700), ninput_edges=1500, resblocks=1)
    net = build_model(other)
    wrong = dict(ckpt, model={k: v for k, v in net.state_dict().items()})
    p = d / "other_arch.pt"
    torch.save(wrong, p)
    cases["other_architecture"] = (p, "do not fit")
    p = d / "unknown_arch.pt"
    torch.save(dict(ckpt, arch="pointnet"), p)
    cases["unknown_arch"] = (p, "unknown architecture")
    p = d / "missing_key.pt"
    torch.save({k: v for k, v in ckpt.items() if k != "model"}, p)
    cases["missing_model_key"] = (p, "lacks")
    p = d / "missing_weight.pt"
    state = dict(ckpt["model"])
    state.pop(sorted(state)[0])
    torch.save(dict(ckpt, model=state), p)
    cases["missing_weight"] = (p, "do not fit")
    p = d / "bare_state_dict.pt"
    torch.save(ckpt["model"], p)
    cases["bare_state_dict"] = (p, "import-reference")
    p = d / "bad_args.pt"
    torch.save(dict(ckpt, model_args=dict(ckpt["model_args"], pool_res=[2000, 100])), p)
    cases["bad_model_args"] = (p, "model_args")
    p = d / "list.pt"
    torch.save([1, 2, 3], p)
    cases["not_a_dict"] = (p, "")
    return cases


@pytest.fixture(scope="module")
def bad_checkpoints(tmp_path_factory, tiny):
    d = tmp_path_factory.mktemp("bad_ckpt")
    return d, _checkpoint_cases(d, tiny)


CKPT_NAMES = [
    "pickle_code",
    "plain_pickle_code",
    "truncated",
    "empty",
    "other_architecture",
    "unknown_arch",
    "missing_model_key",
    "missing_weight",
    "bare_state_dict",
    "bad_model_args",
    "not_a_dict",
]


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("name", CKPT_NAMES)
def test_bad_checkpoint_library(name, bad_checkpoints):
    d, cases = bad_checkpoints
    path, words = cases[name]
    with pytest.raises(CheckpointError, match=words or None):
        load_model(path, device="cpu")
    assert not (d / MARKER_NAME).exists(), "unpickling ran code"


def test_bad_checkpoints_cli(bad_checkpoints):
    d, cases = bad_checkpoints
    mesh = SAMPLES / "bumpy_sphere_1500.obj"
    for name in CKPT_NAMES:
        run = run_main("record", "--model", str(cases[name][0]), "--mesh", str(mesh), "--device", "cpu")
        assert_one_line_error(run, *([cases[name][1]] if cases[name][1] else []))
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(
            pool.map(
                lambda n: run_cli(
                    "record", "--model", str(cases[n][0]), "--mesh", str(mesh), "--device", "cpu"
                ),
                ["pickle_code", "truncated"],
            )
        )
    for run in runs:
        assert_one_line_error(run)
    assert not (d / MARKER_NAME).exists(), "unpickling ran code"


def test_import_reference_without_opt(tmp_path, tiny):
    weights = tmp_path / "latest_net.pth"
    torch.save(torch.load(tiny, weights_only=True)["model"], weights)
    run = run_main("import-reference", "--weights", str(weights), "--out", str(tmp_path / "x.pt"))
    assert_one_line_error(run, "opt.txt")
    opt = tmp_path / "opt.txt"
    opt.write_text("------------ Options -------------\narch: mconvnet\n")
    run = run_main(
        "import-reference", "--weights", str(weights), "--opt", str(opt), "--out", str(tmp_path / "x.pt")
    )
    assert_one_line_error(run, "mean_std")
    assert not (tmp_path / "x.pt").exists()


# ---------------------------------------------------------------- determinism


def test_recording_bytes_identical_across_runs(tmp_path):
    ckpt = tmp_path / "seg.pt"
    _save_tiny(
        ckpt,
        SegmenterConfig(
            nclasses=4, ncf=(8, 8, 8, 8), pool_res=(1050, 600, 300), ninput_edges=1500, resblocks=1
        ),
    )
    mesh = SAMPLES / "torus_knot_1500.obj"
    with ThreadPoolExecutor(max_workers=2) as pool:
        runs = list(
            pool.map(
                lambda k: run_cli(
                    "record",
                    "--model",
                    str(ckpt),
                    "--mesh",
                    str(mesh),
                    "--device",
                    "cpu",
                    "--out",
                    str(tmp_path / f"r{k}.npz"),
                ),
                (1, 2),
            )
        )
    for r in runs:
        assert r.rc == 0, r.err
    assert (tmp_path / "r1.npz").read_bytes() == (tmp_path / "r2.npz").read_bytes()


def test_repair_is_deterministic():
    a = preflight(components_mesh(), target_edges=1200)
    b = preflight(components_mesh(), target_edges=1200)
    assert np.array_equal(a.mesh.vertices, b.mesh.vertices) and np.array_equal(a.mesh.faces, b.mesh.faces)
    assert a.actions == b.actions


# ---------------------------------------------------------------- repair on good meshes

SAMPLE_FILES = sorted(SAMPLES.glob("*.obj"))


@pytest.mark.parametrize("path", SAMPLE_FILES, ids=lambda p: p.stem)
def test_samples_are_ready_and_left_unchanged(path):
    edges = int(path.stem.rsplit("_", 1)[1])
    mesh = load_mesh(path)
    chk = check_mesh(mesh)
    assert not chk.problems and chk.nonmanifold_vertices == 0
    assert edges - 6 <= chk.num_edges <= edges
    res = preflight(mesh, target_edges=edges)
    assert not res.changed and res.mesh.vertices is mesh.vertices
    assert res.actions == [
        f"the mesh is closed, manifold and in one piece with {chk.num_edges} edges: nothing to change"
    ]


@pytest.mark.parametrize("target", [600, 750, 1500])
@pytest.mark.parametrize(
    "path", [SAMPLES / "ant_2250.obj", SAMPLES / "torus_knot_2250.obj"], ids=lambda p: p.stem
)
def test_simplify_good_mesh_keeps_topology_class(path, target):
    mesh = load_mesh(path)
    before = check_mesh(mesh)
    res = preflight(mesh, target_edges=target)
    after = check_mesh(res.mesh)
    assert not after.problems and after.nonmanifold_vertices == 0
    assert target - 6 <= res.num_edges <= target
    chi = lambda m, c: len(m.vertices) - c.num_edges + len(m.faces)  # noqa: E731
    assert chi(res.mesh, after) == chi(mesh, before)  # same genus
    assert res.actions[0].startswith("simplified by quadric decimation")


def test_preflight_does_not_touch_its_input():
    mesh = flipped_mesh()
    v, f = mesh.vertices.copy(), mesh.faces.copy()
    preflight(mesh, target_edges=900)
    assert np.array_equal(mesh.vertices, v) and np.array_equal(mesh.faces, f)


def test_hand_made_torus_repairs_nothing():
    m = torus(24, 12)
    res = preflight(m)
    assert not res.changed and res.num_edges == 3 * 24 * 12


@pytest.mark.parametrize("suffix", [".stl", ".ply", ".off", ".glb"])
def test_other_formats_record_with_repair(suffix, tiny, tmp_path):
    import trimesh

    m = _ico()
    path = tmp_path / f"ico{suffix}"
    trimesh.Trimesh(m.vertices, m.faces, process=False).export(path)
    run = run_main(*_record_args(tiny, path, tmp_path / "r.npz", True))
    assert run.rc == 0, run.err
    assert "from 1920 to 1500 edges (target: at most 1500)" in run.out
