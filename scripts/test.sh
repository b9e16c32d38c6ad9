#!/usr/bin/env bash
# Set up (first time only) and run the test suite, then ruff and mypy.
source "$(dirname "$0")/env.sh"
.venv/bin/python -m pytest -q "$@"
.venv/bin/ruff check src tests benchmarks
.venv/bin/mypy
