#!/usr/bin/env bash
# The test suite: set up, then pytest on two workers (pytest-xdist; PEZO_TEST_WORKERS=0 runs it in one process).
# Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec python -m pytest -n "${PEZO_TEST_WORKERS:-2}" "$@"
