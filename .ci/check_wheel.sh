#!/usr/bin/env bash
# A wheel built from the checkout installs into a fresh venv, and its console scripts run.
set -euo pipefail
cd "$(dirname "$0")/.."
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
# build from a copy of the tracked files, so the checkout gets no build/ or egg-info folders
mkdir "$work/src"
git ls-files -z | xargs -0 tar -cf - | tar -xf - -C "$work/src"
.venv/bin/python -m pip wheel --quiet --no-deps -w "$work/dist" "$work/src"
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet --upgrade pip
# torch first, pinned as in requirements.txt (the CPU build on this machine's disk), so the wheel's
# range 'torch>=2.1' is already met and pip fetches no other build of it
"$work/venv/bin/python" -m pip install --quiet "$(grep -E '^torch==' requirements.txt)"
"$work/venv/bin/python" -m pip install --quiet "$work"/dist/*.whl
cd "$work"  # away from the checkout: only the installed package can be imported
# (output captured first: 'grep -q' closing the pipe early would break the writer)
cli_help="$("$work/venv/bin/meshcnn" --help)"
grep -q "record" <<<"$cli_help"
app_help="$("$work/venv/bin/meshcnn-explorer" --help)"
grep -q "meshcnn-explorer" <<<"$app_help"
"$work/venv/bin/python" - <<'PY'
import sys
from pathlib import Path
import meshcnn_core as mc
share = Path(sys.prefix) / "share" / "meshcnn-explorer"
cks = sorted((share / "checkpoints").glob("*.pt"))
assert cks, f"no shipped checkpoints under {share}"
model = mc.load_model(cks[0], device="cpu")
print(f"wheel ok: {len(cks)} checkpoints; {model.name} loads ({model.task})")
PY
