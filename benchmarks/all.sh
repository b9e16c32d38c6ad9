#!/usr/bin/env bash
# Every benchmark table in one run (several minutes on the 2-core development machine):
# stage timings and ratios, single vs staged markets, models at once, envelopes at scale,
# growth with size, the decomposition on the full day, the assessment's engines and the
# rendering of messages in each standard.
# Extra arguments (e.g. --repeats 1) go to run.py and doe.py.
set -euo pipefail
cd "$(dirname "$0")/.."
py=.venv/bin/python
"$py" benchmarks/run.py --full "$@"
"$py" benchmarks/doe.py --full "$@"
"$py" benchmarks/stages.py --full "$@"
"$py" benchmarks/models_at_once.py --scenario small --threads 1,2
"$py" benchmarks/scale.py --copies 1,3,10
"$py" benchmarks/decomposition.py --time-limit 120
"$py" benchmarks/assess.py
"$py" benchmarks/render.py --repeats 3
