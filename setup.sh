#!/usr/bin/env bash
# Set up finetox in .venv/ (idempotent, quick when nothing changed):
# torch first (pinned: on this CPU machine 2.13.0 is a local CPU build; on a GPU machine PyPI's
# CUDA build), then the package with its pinned dependencies and the dev tools.
set -euo pipefail
cd "$(dirname "$0")"
python=${PYTHON:-python3}
torch_version=${FINETOX_TORCH:-2.13.0}
stamp=.venv/.finetox-setup
want="$(sha256sum pyproject.toml | cut -d' ' -f1) torch==$torch_version"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi
[ -x .venv/bin/python ] || "$python" -m venv .venv
log=.venv/setup.log
install() {
    if ! .venv/bin/python -m pip install "$@" >>"$log" 2>&1; then
        tail -n 30 "$log" >&2
        echo "setup.sh: 'pip install $*' failed; the whole log is in $log" >&2
        exit 1
    fi
}
echo "setting up finetox in .venv/ (a few minutes the first time; log: $log)"
install --upgrade pip
install "torch==$torch_version"
install -e ".[dev]"
# the import check, with the library notices finetox's logs drop dropped here too (bitsandbytes
# names an optional kernel package it then does without: finetox.logs.LIBRARY_LOG_NOTICES)
.venv/bin/python -W ignore -c "from finetox.logs import quiet_libraries; quiet_libraries(); import finetox, torch, transformers, peft, pymc, nutpie, snakemake"
echo "$want" >"$stamp"
echo "finetox is set up in .venv/ (torch $(.venv/bin/python -c 'import torch; print(torch.__version__)'))"
