#!/usr/bin/env bash
# Execute the tutorial notebooks headlessly (the small setup) with the repository's tslab kernelspec, like CI does.
# Usage: npm run notebooks:run [-- NOTEBOOK.ipynb ...]   (default: all of notebooks/; results in runs/notebooks/executed)
# Uses the first Python that has Jupyter's nbclient: $SSL3D_PYTHON, /usr/bin/python3 (Debian's Jupyter), python3.
set -euo pipefail
cd "$(dirname "$0")/../.."
for py in "${SSL3D_PYTHON:-}" /usr/bin/python3 python3; do
  if [[ -n "$py" ]] && "$py" -c 'import nbclient, nbconvert' 2>/dev/null; then PY="$py"; break; fi
done
if [[ -z "${PY:-}" ]]; then
  echo "no Python with Jupyter found: apt-get install jupyter-nbconvert python3-nbclient jupyter-client (or pip install nbclient nbconvert)" >&2
  exit 2
fi
if [[ $# -eq 0 ]]; then set -- notebooks/*.ipynb; fi
export JUPYTER_PATH="$PWD/kernel${JUPYTER_PATH:+:$JUPYTER_PATH}"
exec "$PY" scripts/notebooks/run_notebooks.py "$@" --out-dir runs/notebooks/executed --html 01_data_and_augmentations
