#!/usr/bin/env bash
# Set up (first time only) and run the test suite, then the checks: ruff (lint, and the
# docstring rules on the public API), mypy --strict (pyproject), and the import layers.
source "$(dirname "$0")/env.sh"
.venv/bin/python -m pytest -q "$@"
.venv/bin/ruff check src tests benchmarks
# the public API: every module, class and function documented (the house style keeps a
# summary paragraph, so the blank-line, closing-quote and mood rules are not applied)
.venv/bin/ruff check --select D --ignore D105,D107,D203,D205,D209,D213,D401 \
    src/tsodso/__init__.py src/tsodso/api.py src/tsodso/comparison.py src/tsodso/pipeline.py \
    src/tsodso/coordination/catalogue.py src/tsodso/schema
.venv/bin/mypy
.venv/bin/lint-imports
