#!/usr/bin/env bash
# Share of halo exchange (time waiting for ghost strips, not hidden behind interior work) in a
# step at 2 ranks, on a 2D grid large enough for the stage to dominate. Prints rank 0's
# stage-time shares as logged by `nlfp forward`, for both schemes.
#   usage: benches/halo_share.sh [n] [steps]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-1023}
STEPS=${2:-60}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_io=^ompio
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for scheme in upwind sg; do
    for np in 1 2; do
        log=$(mpirun -n "$np" target/release/nlfp forward configs/condensation.toml \
            --out "$out/$scheme-$np" --overwrite \
            --set grid.n="$N" --set time.scheme="\"$scheme\"" --set time.stepper='"euler"' \
            --set time.max_steps="$STEPS" --set time.t_end=100.0 \
            --set output.diagnostics_every=100000 --set output.progress_every=1000.0 2>&1)
        echo "== $scheme, $np rank(s), n = $N, $STEPS euler steps"
        echo "$log" | grep -E "done:|time shares" | sed 's/^\[INFO\] /   /'
    done
done
