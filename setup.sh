#!/usr/bin/env bash
# Set up drlab in ./.venv, on a fresh machine, with no internet beyond the Python package index.
#
#   bash setup.sh          drlab and what it needs to run (CPU build of PyTorch)
#   bash setup.sh --dev    the same, plus the test tools (pytest, ruff, mypy, nbclient, ipykernel), the
#                          documentation's (mkdocs) and, as root with apt, Chromium for the site's screenshots
#   bash setup.sh --notebooks   the same, plus Jupyter, to open the course notebooks
#
# PyTorch comes first, as a CPU build: a bare `torch` requirement would pull a CUDA build of several GB
# that a laptop without an NVIDIA GPU cannot use. Set DRLAB_TORCH to choose another one, e.g.
# DRLAB_TORCH="torch" for the default build of your platform (CUDA on Linux).
set -euo pipefail
cd "$(dirname "$0")"

wanted=()
for arg in "$@"; do
  case "$arg" in
    --dev) wanted+=(dev) ;;
    --notebooks) wanted+=(notebooks) ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "error: unknown option $arg (see 'bash setup.sh --help')" >&2; exit 2 ;;
  esac
done

extras=""
if [ ${#wanted[@]} -gt 0 ]; then extras="[$(IFS=,; echo "${wanted[*]}")]"; fi

python=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$python" -m venv .venv
fi
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)

if ! .venv/bin/python -c "import torch" >/dev/null 2>&1; then
  echo "setup: installing PyTorch (CPU build)"
  # 1. a CPU wheel the configured indexes already offer (a local wheel house, a mirror);
  # 2. PyTorch's own CPU index; 3. the platform's default build (CPU-only on macOS and Windows).
  "${pip[@]}" "${DRLAB_TORCH:-torch==2.13.0+cpu}" 2>/dev/null \
    || "${pip[@]}" --retries 1 --timeout 20 --extra-index-url https://download.pytorch.org/whl/cpu "torch>=2.2" \
    || "${pip[@]}" "torch>=2.2"
fi

echo "setup: installing drlab${extras}"
"${pip[@]}" -e ".${extras}"
# Box2D (LunarLander) and pygame (drlab rl evaluate --gif): wheels for the usual platforms; without them
# everything else works, and those two say what to install.
if ! .venv/bin/python -c "import Box2D, pygame" >/dev/null 2>&1; then
  echo "setup: installing Box2D and pygame (LunarLander, drlab rl evaluate --gif)"
  "${pip[@]}" -e ".[envs]" \
    || echo "setup: could not install Box2D/pygame: LunarLander and --gif need them (pip install 'drlab[envs]')"
fi

# A system program, installed with apt-get when we are root on Debian/Ubuntu; elsewhere, how to get it.
#   system_program COMMAND PACKAGE HOW_ELSEWHERE WITHOUT_IT
system_program() {
  command -v "$1" >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing $2 (apt-get)"
    (apt-get update -qq && apt-get install -y -qq "$2" >/dev/null) || echo "setup: could not install $2; $4"
  else
    echo "setup: '$1' not found: install it ($3); meanwhile $4"
  fi
}
# Graphviz's `dot` draws the computation graphs (drlab graph); without it drlab writes .dot sources.
system_program dot graphviz "apt install graphviz / brew install graphviz / conda install graphviz" \
  "drlab graph writes .dot files instead of pictures"
# Bubblewrap's `bwrap` gives `drlab check tp1` one sandbox per graded notebook (Linux only); without it
# grading still works, and every report and score-sheet row says "not sandboxed".
if [ "$(uname -s)" = Linux ]; then
  system_program bwrap bubblewrap "apt install bubblewrap / dnf install bubblewrap" \
    "drlab check tp1 grades without a sandbox"
fi
# Chromium draws the documentation site in tests/test_docs.py (headless screenshots); only for --dev.
if [[ " ${wanted[*]-} " == *" dev "* ]]; then
  system_program chromium chromium "apt install chromium" "the documentation's screenshot test is skipped"
fi

# The real Fashion-MNIST for TP1, offline: Debian/Ubuntu's package puts Zalando's four files in
# /usr/share/datasets/fashion-mnist/, where drlab finds them (verified by content, read in place).
fashion=/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz
if [ ! -f "$fashion" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing the real Fashion-MNIST (apt-get install dataset-fashion-mnist)"
    (apt-get update -qq && apt-get install -y -qq dataset-fashion-mnist >/dev/null) \
      || echo "setup: could not install dataset-fashion-mnist; see below for the other ways"
  fi
fi
if [ -f "$fashion" ]; then
  echo "setup: Fashion-MNIST found in /usr/share/datasets/fashion-mnist (TP1 runs offline on the real data)"
else
  echo "setup: Fashion-MNIST not installed. Either: sudo apt install dataset-fashion-mnist (Debian, Ubuntu);"
  echo "       or, with internet: .venv/bin/drlab data download fashion-mnist;"
  echo "       or copy the four .gz files into ~/.cache/drlab/fashion-mnist/ (check: .venv/bin/drlab data verify fashion-mnist)."
  echo "       Meanwhile TP1 runs on the digits bundled with drlab: .venv/bin/drlab train --dataset digits"
fi
echo "setup: done — try .venv/bin/drlab --help"
