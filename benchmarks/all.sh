#!/usr/bin/env bash
# Every benchmark table in one run (about 7 minutes on the 2-core development machine):
# stage timings and ratios, envelopes at scale, growth with size and the decomposition.
# Extra arguments (e.g. --repeats 1) go to run.py and doe.py.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
"$py" benchmarks/run.py --full "$@"
"$py" benchmarks/doe.py --full "$@"
"$py" benchmarks/scale.py --copies 1,3,10
"$py" benchmarks/decomposition.py --time-limit 120
