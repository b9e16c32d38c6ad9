#!/usr/bin/env bash
# Set up (first time only) and run the main job: compare coordination models on the
# built-in default scenario. Extra arguments go to `tsodso compare`.
source "$(dirname "$0")/env.sh"
exec .venv/bin/tsodso compare "$@"
