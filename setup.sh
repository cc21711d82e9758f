#!/usr/bin/env bash
# Create .venv and install rlkit into it. `./setup.sh --dev` adds the test tools (and GNU Go).
# torch==2.13.0 resolves to the CPU wheel where one is on local disk (CI, 2-core dev boxes)
# and to PyPI's CUDA wheel on a GPU user's Linux machine: one pin, right for both.
# constraints.txt holds the other libraries at the versions CI last passed with.
set -euo pipefail
cd "$(dirname "$0")"
extras=""
if [[ "${1:-}" == "--dev" ]]; then
  extras="[dev]"
  if ! command -v gnugo >/dev/null && [[ ! -x /usr/games/gnugo ]] && [[ $(id -u) == 0 ]]; then
    (apt-get update -qq && apt-get install -y -qq gnugo) >/dev/null
  fi
fi
[[ -x .venv/bin/python ]] || python3 -m venv .venv
.venv/bin/pip install -q --disable-pip-version-check -c constraints.txt \
  "torch==${RLKIT_TORCH:-2.13.0}" -e ".${extras}" 2> >(grep -v "is ignored: it is neither" >&2)
