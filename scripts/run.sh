#!/usr/bin/env bash
# The main job on built-in defaults: set up, then `pezo flow` (export the paper's configurations, prove them
# bit-exact on Icarus and Verilator, print a summary). Extra arguments go to `pezo flow`.
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
exec pezo flow "$@"
