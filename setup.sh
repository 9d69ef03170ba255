#!/usr/bin/env bash
# Set up drlab in ./.venv, on a fresh machine, with no internet beyond the Python package index.
#
#   bash setup.sh          drlab and what it needs to run (CPU build of PyTorch)
#   bash setup.sh --dev    the same, plus the test tools (pytest, ruff, mypy, nbclient, ipykernel)
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
    -h|--help) sed -n '2,10p' "$0"; exit 0 ;;
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

# Graphviz's `dot` draws the computation graphs (drlab graph); without it drlab writes .dot sources.
if ! command -v dot >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Graphviz (apt-get)"
    (apt-get update -qq && apt-get install -y -qq graphviz >/dev/null) \
      || echo "setup: could not install Graphviz; drlab graph will write .dot files instead of pictures"
  else
    echo "setup: Graphviz's 'dot' not found: install it (apt install graphviz / brew install graphviz / conda install graphviz) to draw graphs"
  fi
fi
# Bubblewrap's `bwrap` gives `drlab check tp1` one sandbox per graded notebook (Linux only); without it
# grading still works, and every report and score-sheet row says "not sandboxed".
if [ "$(uname -s)" = Linux ] && ! command -v bwrap >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing bubblewrap (apt-get)"
    (apt-get update -qq && apt-get install -y -qq bubblewrap >/dev/null) \
      || echo "setup: could not install bubblewrap; drlab check tp1 will grade without a sandbox"
  else
    echo "setup: bubblewrap's 'bwrap' not found: install it (apt install bubblewrap / dnf install bubblewrap) so that drlab check tp1 grades each notebook in a sandbox"
  fi
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
  echo "       Meanwhile TP1 runs on scikit-learn's bundled digits: .venv/bin/drlab train --dataset digits"
fi
# --dev: a headless browser for the tests that open the class report and a feedback page in a real one
# (Debian's `chromium`); without it those tests are skipped with their reason, outside CI.
if [[ " ${wanted[*]:-} " == *" dev "* ]] && ! command -v chromium >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing chromium (apt-get), for the browser tests of the grading report"
    (apt-get update -qq && apt-get install -y -qq chromium >/dev/null) \
      || echo "setup: could not install chromium; the browser tests will be skipped"
  else
    echo "setup: chromium not found: install it (apt install chromium) to run the browser tests of the grading report"
  fi
fi
echo "setup: done — try .venv/bin/drlab --help"
