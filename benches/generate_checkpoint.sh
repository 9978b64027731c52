#!/usr/bin/env bash
# What checkpointing costs a long `nlfp generate` (issue 12's closing figures).
#
#   usage: benches/generate_checkpoint.sh [n] [t_end] [ranks] [every_seconds] [binary]
#          (defaults 511, 1.0, 2, 60, target/release/nlfp)
#
# Runs the same supercritical 2D generate (three blobs, 1.5 m_c, sg / ssprk2, exact reverse,
# `store = "recompute"`, no samples) twice on `ranks` ranks, back to back: without checkpoints,
# then with `checkpoint.every_seconds = every_seconds`. Prints both wall times and their ratio
# (the extra wall time checkpointing adds), every checkpoint the second run wrote (phase, size,
# write time from the log, MB/s) and a plain `dd if=/dev/zero bs=8M conv=fsync` of the largest
# checkpoint's size into the same directory as the reference write rate of this disk. Output goes
# under the cargo target directory and is removed. On a shared machine run it when it is idle:
# the ratio is only as good as the load is steady.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${1:-511}
T_END=${2:-1.0}
NP=${3:-2}
EVERY=${4:-60}
BIN=${5:-target/release/nlfp}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_io=^ompio
export OMPI_MCA_btl_vader_single_copy_mechanism=none
[[ -x "$BIN" ]] || { echo "no binary at $BIN (cargo build --release)" >&2; exit 2; }

OUT=${CARGO_TARGET_DIR:-target}/generate-checkpoint-bench
rm -rf "$OUT"
mkdir -p "$OUT"
trap '[[ -n "${KEEP:-}" ]] || rm -rf "$OUT"' EXIT
cat >"$OUT/g.toml" <<EOF
[grid]
dim = 2
n = $N
half_width = 6.0
[model]
gamma = 2.0
mass_ratio = 1.5
[initial]
kind = "gaussian_mixture"
components = [
    { weight = 1.0, mean = [1.5, 0.0], std = 0.5 },
    { weight = 1.0, mean = [-0.75, 1.3], std = 0.5 },
    { weight = 1.0, mean = [-0.75, -1.3], std = 0.5 },
]
[time]
t_end = $T_END
stepper = "ssprk2"
scheme = "sg"
[reverse]
store = "recompute"
samples = 0
[checkpoint]
keep = 1000
[output]
diagnostics_every = 1000
progress_every = 30.0
EOF

run() { # name, extra args...
    local name=$1
    shift
    local t0 t1
    t0=$(date +%s.%N)
    mpirun -n "$NP" "$BIN" generate "$OUT/g.toml" --out "$OUT/$name" --overwrite "$@" \
        >"$OUT/$name.log" 2>&1 || { cat "$OUT/$name.log" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$t1 - $t0" | bc -l
}

echo "== generate n = $N, T = $T_END, $NP ranks; load before: $(cut -d' ' -f1-3 /proc/loadavg)"
plain=$(run plain)
printf 'without checkpoints: %8.1f s\n' "$plain"
timed=$(run timed --set "checkpoint.every_seconds=$EVERY")
printf 'every %s s:          %8.1f s\n' "$EVERY" "$timed"
printf 'ratio (extra wall time of checkpointing): %.3f\n' "$(echo "$timed / $plain" | bc -l)"
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"

echo "== checkpoints written (size from the file, time from the log: write + fsync + rename)"
printf '%-28s %-9s %10s %8s %8s\n' file phase MB seconds MB/s
largest=0
while read -r path phase seconds; do
    [[ -f "$path" ]] || continue
    bytes=$(stat -c %s "$path")
    ((bytes > largest)) && largest=$bytes
    printf '%-28s %-9s %10.1f %8.2f %8.1f\n' "$(basename "$path")" "$phase" \
        "$(echo "$bytes / 1000000" | bc -l)" "$seconds" "$(echo "$bytes / 1000000 / $seconds" | bc -l)"
done < <(sed -n 's/.*checkpoint \([^ ]*\.h5\) (generate \([a-z]*\),.* in \([0-9.]*\)s$/\1 \2 \3/p' \
    "$OUT/timed.log")
if ((largest > 0)); then
    blocks=$(((largest + 8388607) / 8388608))
    dd_out=$(dd if=/dev/zero of="$OUT/dd.bin" bs=8M count="$blocks" conv=fsync 2>&1 | tail -1)
    echo "dd of $((blocks * 8)) MiB (conv=fsync), same directory: $dd_out"
else
    echo "no checkpoint written: the run was shorter than $EVERY s (raise t_end)"
fi
