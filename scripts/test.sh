#!/usr/bin/env bash
# The README's test command: the whole suite, slow tests included.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
[ -x "$PY" ] || PY=python3
# Two workers (pytest-xdist): the tests that run Ray studies one after another on one of them, the rest on the
# other (tests/conftest.py groups them), so that the quick tests use the cores the studies leave idle.
# The slowest tests are listed at the end, so that a CI log shows where the suite's time goes.
exec "$PY" -m pytest -q -p no:cacheprovider -n 2 --dist loadgroup --durations=20 "$@"
