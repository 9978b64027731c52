#!/usr/bin/env bash
# Parallel HDF5 checkpoint write throughput against a plain sequential write on the same disk.
#
#   usage: benches/checkpoint_io.sh [--check] [n] [reps]
#
# Builds the `io_write` bench (release), optionally runs its correctness check at 1..4 ranks
# (`--check`), then measures `write_global` (collective and independent MPI-IO, n x n f64, each
# write timed from the first byte to the completed close + fsync + rename + directory fsync) at
# 1 and 2 ranks, with a plain sequential write of the same size by rank 0 interleaved as a
# reference under the same load, and then `dd if=/dev/zero bs=8M conv=fsync` of the same size
# into the same directory. Prints a table of MB/s (1 MB = 10^6 bytes; best and median of the
# repetitions) and whether the target holds: the best collective rate at 2 ranks is at least
# half the best dd rate (and, less sensitive to other jobs on a shared machine, half the best
# interleaved plain rate of the same run).
# Output files go under the cargo target directory (same disk as the repo) and are removed.
set -euo pipefail
cd "$(dirname "$0")/.."

CHECK=0
if [[ "${1:-}" == "--check" ]]; then
    CHECK=1
    shift
fi
N=${1:-4095}
REPS=${2:-5}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_io=^ompio
export OMPI_MCA_btl_vader_single_copy_mechanism=none

TARGET=${CARGO_TARGET_DIR:-target}
OUT="$TARGET/io-bench"
mkdir -p "$OUT"
if [[ "$(df -P "$OUT" | awk 'NR==2 {print $1}')" != "$(df -P . | awk 'NR==2 {print $1}')" ]]; then
    echo "warning: $OUT is not on the same filesystem as the repository" >&2
fi

echo "== building (release)"
BIN=$(cargo bench --bench io_write --no-run --message-format=json 2>/dev/null |
    grep -o '"executable":"[^"]*io_write[^"]*"' | tail -1 | sed 's/"executable":"\(.*\)"/\1/')
if [[ -z "$BIN" || ! -x "$BIN" ]]; then
    cargo bench --bench io_write --no-run # show the build errors
    echo "cannot find the io_write bench executable" >&2
    exit 1
fi

if [[ $CHECK == 1 ]]; then
    for np in 1 2 3 4; do
        NLFP_IO_DIR="$OUT" timeout 600 mpirun -n "$np" "$BIN" --check
    done
fi

declare -A BEST MEDIAN
for np in 1 2; do
    echo "== write_global, $np rank(s)"
    log=$(NLFP_IO_DIR="$OUT" NLFP_IO_N="$N" NLFP_IO_REPS="$REPS" timeout 1800 \
        mpirun -n "$np" "$BIN" 2>&1) || {
        echo "$log"
        echo "io_write failed at $np rank(s)" >&2
        exit 1
    }
    echo "$log" | grep -v '^RESULT' | sed 's/^/   /'
    while read -r _ mode ranks _ best median; do
        key="${mode#mode=}-${ranks#ranks=}"
        BEST[$key]=${best#best_mbs=}
        MEDIAN[$key]=${median#median_mbs=}
    done < <(echo "$log" | grep '^RESULT')
done

# The same number of bytes, rounded up to whole 8 MiB blocks.
BYTES=$((N * N * 8))
COUNT=$(((BYTES + 8388607) / 8388608))
DD_BYTES=$((COUNT * 8388608))
echo "== dd bs=8M count=$COUNT conv=fsync ($DD_BYTES bytes), $REPS rep(s)"
rates=()
for ((r = 0; r < REPS; r++)); do
    f="$OUT/dd.$$"
    rm -f "$f"
    t0=$(date +%s.%N)
    dd if=/dev/zero of="$f" bs=8M count="$COUNT" conv=fsync status=none
    t1=$(date +%s.%N)
    rm -f "$f"
    rate=$(awk -v b="$DD_BYTES" -v a="$t0" -v z="$t1" 'BEGIN {printf "%.1f", b / (z - a) / 1e6}')
    echo "   rep $r $rate MB/s"
    rates+=("$rate")
done
sorted=$(printf '%s\n' "${rates[@]}" | sort -g)
BEST[dd-1]=$(echo "$sorted" | tail -1)
MEDIAN[dd-1]=$(echo "$sorted" | sed -n "$(((REPS + 1) / 2))p")

echo
echo "== MB/s, $N x $N f64 ($((BYTES / 1000000)) MB), $(nproc) core(s), $(df -P "$OUT" | awk 'NR==2 {print $1}')"
printf '%-34s %10s %12s\n' "writer" "best" "median"
for np in 1 2; do
    for mode in collective independent plain; do
        label="$mode ($np rank(s))"
        [[ $mode == plain ]] && label="plain, interleaved (np=$np run)"
        printf '%-34s %10s %12s\n' "$label" "${BEST[$mode-$np]}" "${MEDIAN[$mode-$np]}"
    done
done
printf '%-34s %10s %12s\n' "dd conv=fsync (1 process)" "${BEST[dd-1]}" "${MEDIAN[dd-1]}"
verdict() { # verdict NAME REFERENCE_RATE
    local half
    half=$(awk -v d="$2" 'BEGIN {printf "%.1f", d / 2}')
    if awk -v c="${BEST[collective-2]}" -v h="$half" 'BEGIN {exit !(c >= h)}'; then
        echo "target met vs $1: collective at 2 ranks ${BEST[collective-2]} MB/s >= $half MB/s (half of $2)"
    else
        echo "target NOT met vs $1: collective at 2 ranks ${BEST[collective-2]} MB/s < $half MB/s (half of $2)"
    fi
}
verdict "dd" "${BEST[dd-1]}"
verdict "interleaved plain" "${BEST[plain-2]}"
