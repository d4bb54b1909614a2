"""The ``meshcnn-explorer`` console script: start the explorer with the project's server settings.

``meshcnn-explorer [--port 8501] [--address 0.0.0.0] [other streamlit options]`` runs
``streamlit run <installed viz_app/app.py>`` with the settings of the repository's
``.streamlit/config.toml`` given as flags, so the installed app behaves the same from any folder.
"""

from __future__ import annotations

import sys
from pathlib import Path

__all__ = ["main", "streamlit_argv"]

# The same settings as .streamlit/config.toml (which Streamlit reads only from the current folder).
SERVER_FLAGS = (
    "--server.headless",
    "true",
    "--server.maxUploadSize",
    "50",
    "--server.maxMessageSize",
    "200",
    "--server.fileWatcherType",
    "none",
    "--server.runOnSave",
    "false",
    "--runner.postScriptGC",
    "false",
    # no start-up banner: its "External URL" line looks up this machine's public address on the web
    "--logger.hideWelcomeMessage",
    "true",
    "--browser.gatherUsageStats",
    "false",
    "--client.showErrorDetails",
    "none",
    "--client.toolbarMode",
    "viewer",
    "--theme.base",
    "light",
)


def streamlit_argv(args: list[str]) -> list[str]:
    """The ``streamlit`` command line for ``meshcnn-explorer args`` (``--port``, ``--address`` pass on)."""
    app = Path(__file__).resolve().parent / "app.py"
    out = ["streamlit", "run", str(app), *SERVER_FLAGS]
    it = iter(args)
    for a in it:
        if a in ("--port", "--address"):
            value = next(it, None)
            if value is None:
                raise SystemExit(f"meshcnn-explorer: {a} needs a value")
            out += [f"--server.{a[2:]}", value]
        else:
            out.append(a)
    return out


def main() -> None:
    """Start the explorer (blocks until the server stops)."""
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__)
        return
    from streamlit.web import cli

    sys.argv = streamlit_argv(sys.argv[1:])
    sys.exit(cli.main())
