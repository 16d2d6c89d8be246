#!/usr/bin/env bash
# The top-N protocol's experiments (docs/results.md) in the order their answers matter (the whole-model check,
# protocol-full, last: hours a point on one CPU thread, minutes on a GPU), run by WORKERS one-thread
# workers (default 2: one per core; docs/results.md "Shards against threads") that share each sweep folder: a
# worker moves on to the next preset once every point of this one is finished or held by another worker.
# protocol-table3 has a folder of its own; the other experiments share OUT/protocol, so that a point two presets
# both hold trains once (`pezo sweep report OUT/protocol --preset NAME --out DIR` reports one of them). Resumable:
# run it again to continue where it stopped. A sweep folder that does not exist yet starts as a copy of its archive
# under docs/sweep (`pezo sweep report ... --points`), so that a fresh clone goes on from the points archived there.
# Each worker logs to OUT/protocol-worker-<i>.log; pezo must be on the PATH (scripts/setup.sh).
#
#     bash scripts/protocol.sh [OUT]          (default OUT: out/sweep)
set -uo pipefail
out=${1:-out/sweep}
presets=(protocol-table3 protocol-reach protocol-gain protocol-quality protocol-rank protocol-figure3-pool
         protocol-figure3-rngs protocol-figure4 protocol-powers-of-two protocol-long protocol-full)
archives=$(dirname "${BASH_SOURCE[0]}")/../docs/sweep
folder() {                              # the sweep folder's name of preset $1
    if [ "$1" = protocol-table3 ]; then echo protocol-table3; else echo protocol; fi
}
mkdir -p "$out"
for name in $(for preset in "${presets[@]}"; do folder "$preset"; done | sort -u); do
    [ -e "$out/$name" ] || [ ! -d "$archives/$name/points" ] || cp -a "$archives/$name" "$out/$name"
done
worker() {
    for preset in "${presets[@]}"; do
        OMP_NUM_THREADS=1 pezo sweep run --preset "$preset" --out "$out/$(folder "$preset")" --no-progress \
            || echo "protocol.sh: $preset stopped with exit status $?; going on with the next preset"
    done
}
for i in $(seq 1 "${WORKERS:-2}"); do
    worker > "$out/protocol-worker-$i.log" 2>&1 &
done
wait
