#!/usr/bin/env bash
# Set up (if needed) and run the main job: synthetic data -> M-SDF store -> flow model -> generated shapes -> report.
# Extra arguments go to `msdf demo` (e.g. --quick for a ~5-minute smoke run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
. .venv/bin/activate
python -m msdf demo -o demo_output "$@"
