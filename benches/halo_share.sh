#!/usr/bin/env bash
# Share of halo exchange ("halo wait": time waiting for ghost strips, not hidden behind interior
# work) in the steps of a 2-rank forward run, for both 1 x 2 splits of a 2D grid: along x
# (decomposition.procs = [2, 1]) and along y ([1, 2]). Prints rank 0's stage-time shares as
# logged by `nlfp forward`. With kernels whose cost per cell depends on the data (branches,
# libm's argument-dependent paths) the rank with the cheaper half waits for the other one, and
# that imbalance shows up as halo wait.
#   usage: benches/halo_share.sh [n] [steps] [nlfp binary] [config]
#   defaults: 567, 100, target/release/nlfp, configs/scaling.toml (sg, euler)
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-567}
STEPS=${2:-100}
BIN=${3:-target/release/nlfp}
CONFIG=${4:-configs/scaling.toml}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_io=^ompio
export OMPI_MCA_btl_vader_single_copy_mechanism=none
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for procs in "[2,1]" "[1,2]"; do
    log=$(mpirun -n 2 "$BIN" forward "$CONFIG" \
        --out "$out/run" --overwrite \
        --set grid.n="$N" --set decomposition.procs="$procs" \
        --set time.max_steps="$STEPS" 2>&1)
    echo "== $BIN, procs = $procs, n = $N, $STEPS steps"
    echo "$log" | grep -E "done:|time shares" | sed 's/^\[INFO\] /   /'
done
