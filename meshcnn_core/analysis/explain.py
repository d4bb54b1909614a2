"""Edge attributions: which input edges a prediction depends on, and a check that it is so.

:func:`edge_attribution` gives one non-negative value per input edge (MeshCNN's edge order):

* ``"gradcam"``: Grad-CAM (Selvaraju et al. 2017) at one stage: ``ReLU(sum_c alpha_c A_c)`` with
  ``alpha_c`` the mean gradient of channel ``c`` over the stage's edges. A pooled stage's value
  is carried back to the input edges through the recorded merge groups (an input edge gets the
  mean value of the stage edges whose groups hold it), never by interpolation in space.
* ``"grad_input"``: gradient times input on the normalized features, summed over the 5 features.
* ``"integrated_gradients"`` (Sundararajan et al. 2017): the same, with the gradient averaged
  along the straight path from the baseline 0 (the data set's mean feature) to the input.

The two input methods estimate per edge ``f(x) - f(x with that edge's features at 0)``; by
default only that estimated drop is kept (``sign="positive"``), ``"absolute"`` keeps its size.

The target is a class (classifiers) or a part (segmenters; the score is the part's mean logit
over the edges predicted as that part), by default the predicted one. :func:`deletion_curve`
checks an attribution: it hides the top-scored edges (normalized features set to 0) in steps and
records the target's probability, against random orders of the same edges.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch

from ..checkpoint import LoadedModel
from ..inference import PreparedMesh, model_input, prepare
from ..mesh.io import Mesh
from ..mesh.topology import MeshTopology
from ..nn.trace import NetOutput

__all__ = [
    "METHODS", "DEFAULT_METHOD", "DEFAULT_GRADCAM_STAGE", "DeletionCurve", "Target", "edge_attribution",
    "deletion_curve", "resolve_target", "gradcam_map", "spread_to_input", "stage_membership",
    "smooth_one_ring", "hide_edges",
]

METHODS = ("gradcam", "grad_input", "integrated_gradients")
#: The method to show first: the most faithful by the deletion check on SHREC-16
#: (``benchmarks/bench_explain.py``).
DEFAULT_METHOD = "integrated_gradients"
#: Grad-CAM's default stage: the input resolution (the first block's activations). Chosen on
#: SHREC-16's *train* split, where it beat the deeper stages in the deletion check.
DEFAULT_GRADCAM_STAGE = 0
SIGNS = ("positive", "absolute")


@dataclass(frozen=True)
class Target:
    """What an attribution explains.

    Attributes:
        index: the class (classifier) or part (segmenter).
        name: its name.
        edges: segmenters: ``(E,)`` bool, the input edges predicted as that part (the score is
            the mean over them); classifiers: None.
    """

    index: int
    name: str
    edges: np.ndarray | None


def _prepared(mesh: Mesh | PreparedMesh) -> PreparedMesh:
    return mesh if isinstance(mesh, PreparedMesh) else prepare(mesh)


def _forward(model: LoadedModel, prep: PreparedMesh, x: torch.Tensor) -> NetOutput:
    """Forward ``x`` ``(B, 5, N)``, all B rows on this mesh's topology (gradients kept)."""
    return model.net(x, [prep.topology] * x.shape[0])


def _score(logits: torch.Tensor, target: Target) -> torch.Tensor:
    """``(B,)`` the target's logit (classifier) or its mean logit over the part's edges (segmenter)."""
    if target.edges is None:
        return logits[:, target.index]  # (B,)
    mask = torch.from_numpy(np.flatnonzero(target.edges)).to(logits.device)
    return logits[:, target.index].index_select(1, mask).mean(1)  # (B,)


def _probability(logits: torch.Tensor, target: Target, num_edges: int) -> np.ndarray:
    """``(B,)`` the target's probability (segmenter: mean over the part's edges)."""
    if target.edges is None:
        return torch.softmax(logits.float(), dim=1)[:, target.index].cpu().numpy()
    p = torch.softmax(logits[:, :, :num_edges].float(), dim=1)[:, target.index]  # (B, E)
    return p[:, torch.from_numpy(target.edges).to(p.device)].mean(1).cpu().numpy()


def resolve_target(model: LoadedModel, mesh: Mesh | PreparedMesh, target: int | None = None) -> Target:
    """The class or part to explain (default: the predicted class / the part predicted most often).

    Raises:
        ValueError: ``target`` is not a class of the model, or no edge is predicted as that part.
        MeshError: the mesh does not fit the model.
    """
    prep = _prepared(mesh)
    nc = len(model.class_names)
    if target is not None and not 0 <= int(target) < nc:
        raise ValueError(f"target {target} is not a class of this model (0..{nc - 1})")
    with torch.no_grad():
        logits = _forward(model, prep, model_input(model, prep)).logits
    if model.task == "classification":
        t = int(logits[0].argmax()) if target is None else int(target)
        return Target(t, model.class_names[t], None)
    pred = logits[0, :, : prep.topology.num_edges].argmax(0).cpu().numpy()  # (E,)
    t = int(np.bincount(pred, minlength=nc).argmax()) if target is None else int(target)
    edges = pred == t
    if not edges.any():
        name = model.class_names[t]
        raise ValueError(f"no edge of this mesh is predicted as part {name!r}; choose another part")
    return Target(t, model.class_names[t], edges)


# ---------------------------------------------------------------- pure helpers


def stage_membership(out: NetOutput) -> list[sp.csr_matrix]:
    """Per stage, which input edges each of its edges stands for (the recorded merge groups).

    Shapes: one ``(E_k, E)`` 0/1 CSR matrix per stage (unpool stages reuse their level's).
    """
    e0 = out.stages[0].topologies[0].num_edges
    levels: list[sp.csr_matrix] = []
    result: list[sp.csr_matrix] = []
    for k, st in enumerate(out.stages):
        topo = st.topologies[0]
        if st.kind == "input":
            g = sp.identity(e0, dtype=np.float64, format="csr")
            levels.append(g)
        elif st.kind == "pool":
            rec = out.stages[k - 1].pool_records[0]
            step = sp.csr_matrix(
                (np.ones(len(rec.groups_indices)), rec.groups_indices, rec.groups_indptr),
                shape=(len(rec.groups_indptr) - 1, rec.topology_in.num_edges),
            )
            g = (step @ levels[-1]).tocsr()
            g.data[:] = 1.0
            levels.append(g)
        else:
            level = next(i for i, t in enumerate(out.stages)
                         if t.kind != "unpool" and t.topologies[0] is topo)
            g = result[level]
        result.append(g)
    return result


def spread_to_input(values: np.ndarray, membership: sp.csr_matrix) -> np.ndarray:
    """Carry per-stage-edge values back to the input edges through the merge groups.

    Each input edge gets the mean value of the stage edges whose groups hold it (0 if none).

    Shapes: values ``(E_k,)``, membership ``(E_k, E)`` -> ``(E,)`` float64.
    """
    values = np.asarray(values, dtype=np.float64)
    held = np.asarray(membership.sum(0)).ravel()  # (E,)
    total = membership.T @ values  # (E,)
    return np.divide(total, held, out=np.zeros(membership.shape[1]), where=held > 0)


def gradcam_map(activations: np.ndarray, gradients: np.ndarray) -> np.ndarray:
    """Grad-CAM on edges: ``ReLU(sum_c mean_e(G[c, e]) * A[c, e])``.

    Shapes: activations, gradients ``(C, E_k)`` -> ``(E_k,)`` float64, >= 0.
    """
    a = np.asarray(activations, dtype=np.float64)
    alpha = np.asarray(gradients, dtype=np.float64).mean(axis=1)  # (C,)
    return np.maximum(alpha @ a, 0.0)


def smooth_one_ring(values: np.ndarray, topo: MeshTopology, iterations: int = 1) -> np.ndarray:
    """Average each edge's value with its (up to 4) one-ring neighbours, ``iterations`` times.

    Shapes: ``(E,) -> (E,)`` float64.
    """
    v = np.asarray(values, dtype=np.float64)
    nb = topo.gemm  # (E, 4), -1 on a boundary
    ok = nb >= 0
    count = 1.0 + ok.sum(1)
    for _ in range(int(iterations)):
        v = (v + np.where(ok, v[np.where(ok, nb, 0)], 0.0).sum(1)) / count
    return v


def hide_edges(x: torch.Tensor, edges: np.ndarray) -> torch.Tensor:
    """A copy of normalized input features with the given edges' features set to 0 (the mean).

    Shapes: ``(B, 5, N)``, edges ``(H,)`` int -> ``(B, 5, N)``.
    """
    out = x.clone()
    out[:, :, torch.from_numpy(np.asarray(edges, dtype=np.int64)).to(x.device)] = 0
    return out


# ---------------------------------------------------------------- attribution


def _reduce(signed: np.ndarray, sign: str) -> np.ndarray:
    return np.abs(signed) if sign == "absolute" else np.maximum(signed, 0.0)


def _gradcam(model: LoadedModel, prep: PreparedMesh, target: Target, stage: int | None) -> np.ndarray:
    out = _forward(model, prep, model_input(model, prep))
    n = len(out.stages)
    k = DEFAULT_GRADCAM_STAGE if stage is None else int(stage)
    if not 0 <= k < n:
        raise ValueError(f"stage {stage} out of range 0..{n - 1}")
    feats = out.stages[k].features  # (1, C, E_pad)
    (grad,) = torch.autograd.grad(_score(out.logits, target).sum(), [feats])
    e_k = out.stages[k].topologies[0].num_edges
    cam = gradcam_map(feats[0, :, :e_k].detach().cpu().numpy(), grad[0, :, :e_k].cpu().numpy())  # (E_k,)
    return spread_to_input(cam, stage_membership(out)[k])


def _input_gradient(model: LoadedModel, prep: PreparedMesh, target: Target, steps: int) -> np.ndarray:
    """``(5, E)`` gradient times input, integrated from 0 (``steps`` > 1) or at the input (``steps`` = 1)."""
    x = model_input(model, prep)  # (1, 5, N)
    e = prep.topology.num_edges
    real = torch.zeros_like(x, dtype=torch.bool)
    real[:, :, :e] = True
    total = torch.zeros_like(x)
    alphas = [1.0] if steps == 1 else ((np.arange(steps) + 0.5) / steps).tolist()  # midpoint rule
    for a in alphas:
        xa = torch.where(real, x * a, x).requires_grad_(True)  # padded slots keep their value
        (g,) = torch.autograd.grad(_score(_forward(model, prep, xa).logits, target).sum(), [xa])
        total += g
    return (x * total / len(alphas))[0, :, :e].detach().cpu().double().numpy()


def edge_attribution(
    model: LoadedModel,
    mesh: Mesh | PreparedMesh,
    target: int | None = None,
    method: str = "gradcam",
    stage: int | None = None,
    *,
    sign: str = "positive",
    steps: int = 8,
    smooth: int = 0,
) -> np.ndarray:
    """How much each input edge contributes to the target's score.

    Args:
        model: a loaded classifier or segmenter.
        mesh: the mesh (or a prepared one).
        target: class (classifier) or part (segmenter); default the predicted one, see
            :func:`resolve_target`.
        method: one of :data:`METHODS`.
        stage: ``"gradcam"`` only: the stage whose activations are used (default
            :data:`DEFAULT_GRADCAM_STAGE`).
        sign: input methods only: ``"positive"`` keeps the estimated drop of the score when the
            edge is hidden, ``"absolute"`` its size either way.
        steps: ``"integrated_gradients"`` only: points on the path (one backward pass each).
        smooth: average over the one-ring this many times (0: none).

    Returns:
        ``(E,)`` float64, finite, >= 0, MeshCNN's edge order.

    Raises:
        ValueError: unknown method or sign, bad stage or target.
        MeshError: the mesh does not fit the model.
    """
    if method not in METHODS:
        raise ValueError(f"unknown attribution method {method!r}; choose one of {', '.join(METHODS)}")
    if sign not in SIGNS:
        raise ValueError(f"sign must be one of {', '.join(SIGNS)}, got {sign!r}")
    if stage is not None and method != "gradcam":
        raise ValueError(f"a stage applies to gradcam only, not to {method}")
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    prep = _prepared(mesh)
    tgt = resolve_target(model, prep, target)
    if method == "gradcam":
        values = _gradcam(model, prep, tgt, stage)
    else:
        n = 1 if method == "grad_input" else int(steps)
        values = _reduce(_input_gradient(model, prep, tgt, n).sum(0), sign)  # (E,)
    if smooth:
        values = smooth_one_ring(values, prep.topology, smooth)
    values = np.nan_to_num(np.asarray(values, dtype=np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    return np.maximum(values, 0.0)


# ---------------------------------------------------------------- faithfulness


@dataclass(frozen=True)
class DeletionCurve:
    """The target's probability as the top-scored input edges are hidden, against random orders.

    Attributes:
        fractions: ``(F,)`` shares of the input edges hidden.
        hidden: ``(F,)`` int, how many edges that is.
        target: the class or part.
        target_name: its name.
        attributed: ``(F,)`` probability with the top-scored edges hidden.
        random: ``(S, F)`` the same for ``S`` random orders.
        seeds: ``(S,)`` the random orders' seeds.
    """

    fractions: np.ndarray
    hidden: np.ndarray
    target: int
    target_name: str
    attributed: np.ndarray
    random: np.ndarray
    seeds: np.ndarray

    @property
    def random_mean(self) -> np.ndarray:
        """``(F,)`` mean probability over the random orders (nan if there are none)."""
        if not len(self.random):
            return np.full(len(self.fractions), np.nan)
        return self.random.mean(axis=0)

    @property
    def base(self) -> float:
        """The probability with nothing hidden."""
        return float(self.attributed[0]) if self.hidden[0] == 0 else float("nan")

    def drop(self, fraction: float) -> tuple[float, float]:
        """``(attributed drop, mean random drop)`` of the probability at one of the ``fractions``.

        Raises:
            ValueError: ``fraction`` is not one of the curve's fractions, or 0 is not among them.
        """
        hit = np.flatnonzero(np.isclose(self.fractions, fraction))
        if not len(hit) or self.hidden[0] != 0:
            have = self.fractions.tolist()
            raise ValueError(f"the curve has no point at {fraction} (and at 0): fractions {have}")
        i = int(hit[0])
        return self.base - float(self.attributed[i]), self.base - float(self.random_mean[i])


def _probabilities(model: LoadedModel, prep: PreparedMesh, x: torch.Tensor, target: Target) -> float:
    with torch.no_grad():
        logits = _forward(model, prep, x).logits
    return float(_probability(logits, target, prep.topology.num_edges)[0])


def deletion_curve(
    model: LoadedModel,
    mesh: Mesh | PreparedMesh,
    scores: np.ndarray,
    fractions: Sequence[float] = (0.0, 0.05, 0.1, 0.2, 0.3, 0.5),
    *,
    target: int | None = None,
    seeds: Sequence[int] = (0, 1, 2, 3, 4),
) -> DeletionCurve:
    """Hide the highest-scored input edges in steps and record the target's probability.

    Hiding sets an edge's normalized features to 0 (the data set's mean feature). Ties in
    ``scores`` are broken by edge id. The random orders hide the same numbers of edges.
    One forward pass per fraction and order: ``len(fractions) * (1 + len(seeds))``.

    Args:
        model: a loaded model.
        mesh: the mesh the scores were computed on.
        scores: ``(E,)`` one value per input edge (e.g. from :func:`edge_attribution`).
        fractions: shares of the edges to hide, each in ``[0, 1]``.
        target: the class or part (default: the predicted one, as in :func:`edge_attribution`).
        seeds: seeds of the random orders.

    Raises:
        ValueError: ``scores`` has the wrong shape or is not finite, a fraction is outside [0, 1].
    """
    prep = _prepared(mesh)
    e = prep.topology.num_edges
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (e,) or not np.isfinite(scores).all():
        raise ValueError(f"scores must be {e} finite numbers (one per input edge), got shape {scores.shape}")
    fr = np.asarray(fractions, dtype=np.float64)
    if fr.ndim != 1 or not len(fr) or (fr < 0).any() or (fr > 1).any():
        raise ValueError(f"fractions must be numbers in [0, 1], got {list(fractions)}")
    counts = np.rint(fr * e).astype(np.int64)
    tgt = resolve_target(model, prep, target)
    x = model_input(model, prep)
    orders = [np.lexsort((np.arange(e), -scores))]
    orders += [np.random.default_rng(int(s)).permutation(e) for s in seeds]
    base = _probabilities(model, prep, x, tgt)
    probs = np.array([
        [_probabilities(model, prep, hide_edges(x, o[:c]), tgt) if c else base for c in counts]
        for o in orders
    ])
    return DeletionCurve(
        fractions=fr, hidden=counts, target=tgt.index, target_name=tgt.name, attributed=probs[0],
        random=probs[1:].reshape(len(seeds), len(fr)), seeds=np.asarray(seeds, dtype=np.int64),
    )
