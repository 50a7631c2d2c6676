#!/bin/sh
# Make the Python used by the embedder's reference checks and benchmark (never by the product):
# a venv in $FEEDLOG_CACHE/reference-venv with requirements.txt. Safe to re-run.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
cache=${FEEDLOG_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/feedlog}
venv="$cache/reference-venv"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$here/requirements.txt"
"$venv/bin/python" -c 'import onnxruntime, tokenizers, numpy; print("reference venv ready:", onnxruntime.__version__, tokenizers.__version__)'
