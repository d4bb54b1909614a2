"""MeshCNN Explorer: ``streamlit run viz_app/app.py``.

The entry point only sets up the page and the navigation; each page lives in ``viz_app/views/`` and
calls :mod:`viz_app.service` (through the caches of :mod:`viz_app.cached`) for the work.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `streamlit run viz_app/app.py` puts only viz_app/ on the path
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402
import torch  # noqa: E402

# One intra-op thread per inference by default: a server runs several sessions, and on a busy CPU
# more threads than free cores make a forward pass many times slower (see benchmarks/bench_app.py).
_threads = os.environ.get("MESHCNN_THREADS", "1")
torch.set_num_threads(max(1, int(_threads)) if _threads.isdigit() else 1)


def main() -> None:
    """Set up the page and run the selected view."""
    # a local favicon: an emoji or Material icon here makes the browser fetch it from a font/CDN host
    st.set_page_config(page_title="MeshCNN Explorer", page_icon=str(Path(__file__).parent / "favicon.png"),
                       layout="wide")
    st.markdown(
        "<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem}</style>", unsafe_allow_html=True
    )
    st.sidebar.title("MeshCNN Explorer")
    st.sidebar.caption("See how a mesh neural network collapses a mesh, stage by stage.")
    here = Path(__file__).parent / "views"
    nav = st.navigation(
        [
            st.Page(
                str(here / "explore.py"),
                title="Stage browser",
                icon=":material/layers:",
                url_path="explore",
                default=True,
            ),
            st.Page(
                str(here / "compare.py"),
                title="Compare models",
                icon=":material/compare:",
                url_path="compare",
            ),
            st.Page(
                str(here / "dataset.py"),
                title="Across a data set",
                icon=":material/dataset:",
                url_path="dataset",
            ),
            st.Page(
                str(here / "inspect.py"),
                title="Inspect an edge",
                icon=":material/ads_click:",
                url_path="inspect",
            ),
            st.Page(
                str(here / "teach.py"), title="Teaching mode", icon=":material/school:", url_path="teach"
            ),
        ]
    )
    nav.run()


main()
