#!/usr/bin/env bash
# The test suite: set up, then pytest. Extra arguments go to pytest.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec python -m pytest "$@"
