"""MeshCNN Explorer: ``streamlit run viz_app/app.py``.

The entry point only sets up the page and the navigation; each page lives in ``viz_app/views/`` and
calls :mod:`viz_app.service` for the work.
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
    st.set_page_config(page_title="MeshCNN Explorer", page_icon="🔺", layout="wide")
    st.markdown("<style>[data-testid='stMainBlockContainer']{padding-top:2.5rem}</style>", unsafe_allow_html=True)
    st.sidebar.title("MeshCNN Explorer")
    st.sidebar.caption("See how a mesh neural network collapses a mesh, stage by stage.")
    here = Path(__file__).parent / "views"
    nav = st.navigation([
        st.Page(str(here / "explore.py"), title="Stage browser", icon="🔍", url_path="explore", default=True),
        st.Page(str(here / "compare.py"), title="Compare models", icon="⚖️", url_path="compare"),
    ])
    nav.run()


main()
