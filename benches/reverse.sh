#!/usr/bin/env bash
# Reverse-sweep cost (issue 5 benchmark): for each forward stepper, `nlfp generate` on a 2D grid
# with the `memory` and the `recompute` (automatic K ~ sqrt(steps)) trajectory stores, at 1 and 2
# ranks. Prints per run: forward steps, forward and reverse wall seconds, the reverse/forward
# time ratio (target <= 1.3; the reverse includes its per-step diagnostics and store reads), the
# total time of `recompute` relative to `memory` (target <= 2.2) and the store's peak memory.
#   usage: benches/reverse.sh [n] [t_end]
set -euo pipefail
cd "$(dirname "$0")/.."
N=${1:-255}
T=${2:-0.3}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_io=^ompio
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
value() { grep "^$2 = " "$1/summary.toml" | cut -d' ' -f3; }
printf '%-9s %-3s %-10s %6s %9s %9s %8s %9s %10s\n' stepper np store steps forward_s reverse_s rev/fwd total/mem peak_MiB
for stepper in euler ssprk2 implicit; do
    for np in 1 2; do
        mem_total=""
        for store in memory recompute; do
            d="$out/$stepper-$np-$store"
            mpirun -n "$np" target/release/nlfp generate configs/quickstart.toml --out "$d" \
                --overwrite --set grid.n="$N" --set time.t_end="$T" --set time.dt_max=0.01 \
                --set time.stepper="\"$stepper\"" --set reverse.store="\"$store\"" \
                --set reverse.samples=0 \
                --set output.diagnostics_every=100000 --set output.progress_every=1000.0 \
                >"$d.log" 2>&1 || { cat "$d.log"; exit 1; }
            steps=$(value "$d" steps)
            fwd=$(value "$d" forward_seconds)
            rev=$(value "$d" reverse_seconds)
            peak=$(value "$d" store_peak_bytes)
            total=$(python3 -c "print($fwd + $rev)")
            [ "$store" = memory ] && mem_total=$total
            python3 - "$stepper" "$np" "$store" "$steps" "$fwd" "$rev" "$total" "$mem_total" "$peak" <<'PY'
import sys
stepper, np_, store, steps, fwd, rev, total, mem_total, peak = sys.argv[1:]
fwd, rev, total, mem_total = map(float, (fwd, rev, total, mem_total))
print(f"{stepper:<9} {np_:<3} {store:<10} {int(steps):>6} {fwd:>9.3f} {rev:>9.3f} "
      f"{rev / fwd:>8.2f} {total / mem_total:>9.2f} {int(peak) / 2**20:>10.1f}")
PY
        done
    done
done
