"""The teaching page's plain logic: the lesson's steps, its default mesh and model, the printable handout.

The handout is :func:`meshcnn_core.inspection.lesson.lesson_summary` (Markdown with the recording's real
numbers);
:func:`lesson_html` turns it into a standalone printable HTML page, :func:`lesson_sections` splits it so
each step of the page can show its own part.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass

from markdown_it import MarkdownIt

from .catalog import MeshEntry, ModelEntry, estimated_edges

__all__ = [
    "LessonStep",
    "lesson_steps",
    "LESSON_MODEL",
    "LESSON_MESH",
    "lesson_model",
    "lesson_meshes",
    "lesson_mesh",
    "lesson_sections",
    "lesson_html",
]

# A segmenter, so the lesson reaches unpooling; a vase-sized mesh (1500 edges) so every stage stays
# readable on a projector; the ant, because it still looks like an ant at 300 edges (antennae and legs)
# and the vase model splits it into legs and body (looked at for every 1500-edge sample).
LESSON_MODEL = "coseg_vases_segmenter.pt"
LESSON_MESH = "ant_1500.obj"


@dataclass(frozen=True)
class LessonStep:
    """One step of the lesson: a short name (for the step bar) and a title."""

    name: str
    title: str


def lesson_steps(task: str) -> tuple[LessonStep, ...]:
    """The lesson's steps; step 7 is unpooling for a segmenter, the class scores for a classifier."""
    last = (
        LessonStep("Unpooling", "7. Unpooling: back to every edge")
        if task == "segmentation"
        else LessonStep("Result", "7. The result: a class for the whole mesh")
    )
    return (
        LessonStep("Mesh", "1. A mesh is made of edges"),
        LessonStep("Features", "2. Five numbers per edge"),
        LessonStep("Convolution", "3. Convolution: an edge and its four neighbours"),
        LessonStep("Priority", "4. Which edges go first"),
        LessonStep("Collapses", "5. Pooling, one collapse at a time"),
        LessonStep("Pooled", "6. The pooled mesh"),
        last,
        LessonStep("Summary", "8. Summary and handout"),
    )


def lesson_model(models: Sequence[ModelEntry]) -> ModelEntry | None:
    """The lesson's model: :data:`LESSON_MODEL` when listed, else the first segmenter, else the first."""
    for m in models:
        if m.path.name == LESSON_MODEL:
            return m
    return next((m for m in models if "seg" in m.name.lower()), models[0] if models else None)


def lesson_meshes(samples: Sequence[MeshEntry], lo: int, hi: int) -> list[MeshEntry]:
    """Samples a model takes as they are (``lo..hi`` edges by their name), so nothing is simplified."""
    return [m for m in samples if (e := estimated_edges(m)) is not None and lo <= e <= hi]


def lesson_mesh(meshes: Sequence[MeshEntry]) -> MeshEntry | None:
    """:data:`LESSON_MESH` when among ``meshes``, else the first."""
    return next((m for m in meshes if m.path.name == LESSON_MESH), meshes[0] if meshes else None)


def lesson_sections(markdown: str) -> dict[str, str]:
    """The handout split at its ``## `` headings: ``{"title": ..., "1": ..., "2": ...}`` (by section number).

    The ``"title"`` part is what comes before the first section.
    """
    out: dict[str, str] = {}
    name, lines = "title", []
    for line in markdown.splitlines():
        if line.startswith("## "):
            out[name] = "\n".join(lines).strip()
            name = line[3:].split(".", 1)[0].strip()
            lines = [line]
        else:
            lines.append(line)
    out[name] = "\n".join(lines).strip()
    return out


_CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
       font-size: 13pt; line-height: 1.45;
       max-width: 60rem; margin: 2rem auto; padding: 0 1.5rem; color: #1b1b1f; }
h1 { font-size: 1.9em; } h2 { font-size: 1.35em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #bbb; padding: 0.25em 0.55em; text-align: left; vertical-align: top; }
th { background: #f0f0f4; }
code { font-size: 0.95em; }
@media print { body { margin: 0; max-width: none; font-size: 11pt; } h2 { break-after: avoid; }
               table { break-inside: avoid; } }
"""


def lesson_html(markdown: str, title: str) -> str:
    """A standalone printable HTML page of the handout (no scripts, nothing loaded from the network).

    Raw HTML inside ``markdown`` is shown as text, never interpreted.
    """
    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    return (
        f'<!doctype html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n"
    )
