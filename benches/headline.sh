#!/usr/bin/env bash
# The headline benchmark of issue 4: time to solution of the condensation run
#   2D, gamma = 2, m = 1.5 m_c, n = 255, t = 0 .. 40, sg, implicit (backward Euler + Newton-Krylov,
#   time.dt_max = 0.1), the three Gaussian blobs of configs/condensation.toml,
# at 1 and 2 ranks, with the Newton and Krylov iteration totals; and the cost of one implicit step
# relative to one explicit sg stage on the same grid, both measured in this script run (the
# explicit reference: STAGE_STEPS forward-Euler steps, one stage each, from the same initial data).
#
#   usage: benches/headline.sh [OUT_DIR]          (default: a temporary directory, removed)
#   env:   NLFP_BIN (default target/release/nlfp), RANKS (default "1 2"), DT_MAX (0.1), N (255),
#          T_END (40), STAGE_STEPS (400)
#
# Times are the `wall_seconds` of the last diagnostics row (the march, without start-up and the
# final write). Diagnostics are written only at the first and the last step, so the per-step
# diagnostics (entropy, symmetry gather) do not count. Prints a table and writes OUT_DIR/headline.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
NLFP_BIN=${NLFP_BIN:-target/release/nlfp}
RANKS=${RANKS:-1 2}
DT_MAX=${DT_MAX:-0.1}
N=${N:-255}
T_END=${T_END:-40}
STAGE_STEPS=${STAGE_STEPS:-400}
export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
export OMPI_MCA_io=${OMPI_MCA_io:-^ompio}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}
[ -x "$NLFP_BIN" ] || { echo "headline: no binary $NLFP_BIN (cargo build --release, or set NLFP_BIN)" >&2; exit 2; }

if [ $# -ge 1 ]; then
    OUT=$1
    mkdir -p "$OUT"
else
    OUT=$(mktemp -d)
    trap 'rm -rf "$OUT"' EXIT
fi

common=(--set model.gamma=2.0 --set model.mass_ratio=1.5 --set grid.n="$N" --set time.scheme=sg
        --set output.diagnostics_every=100000000 --set output.progress_every=1e9
        --set output.snapshot_every=0 --set output.snapshot_dt=0.0)

# Column of the last row of a diagnostics CSV.
last() { # csv column
    awk -F, -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } { v = $k } END { print v }' "$1"
}

printf 'ranks,kind,steps,wall_seconds,newton,krylov,seconds_per_step\n' >"$OUT/headline.csv"
for np in $RANKS; do
    dir="$OUT/implicit-$np"
    mpirun -n "$np" "$NLFP_BIN" forward configs/condensation.toml --out "$dir" --overwrite "${common[@]}" \
        --set time.stepper=implicit --set time.dt_max="$DT_MAX" --set time.t_end="$T_END" \
        >"$OUT/implicit-$np.log" 2>&1 || { cat "$OUT/implicit-$np.log" >&2; exit 1; }
    csv="$dir/diagnostics.csv"
    steps=$(last "$csv" step); wall=$(last "$csv" wall_seconds)
    newton=$(last "$csv" newton_iterations); krylov=$(last "$csv" krylov_iterations)
    awk -v p="$np" -v s="$steps" -v w="$wall" -v nw="$newton" -v k="$krylov" \
        'BEGIN { printf "%s,implicit,%s,%s,%s,%s,%.6e\n", p, s, w, nw, k, w / s }' >>"$OUT/headline.csv"

    dir="$OUT/explicit-$np"
    mpirun -n "$np" "$NLFP_BIN" forward configs/condensation.toml --out "$dir" --overwrite "${common[@]}" \
        --set time.stepper=euler --set time.t_end=1e6 --set time.max_steps="$STAGE_STEPS" \
        >"$OUT/explicit-$np.log" 2>&1 || { cat "$OUT/explicit-$np.log" >&2; exit 1; }
    csv="$dir/diagnostics.csv"
    steps=$(last "$csv" step); wall=$(last "$csv" wall_seconds)
    awk -v p="$np" -v s="$steps" -v w="$wall" \
        'BEGIN { printf "%s,explicit_euler,%s,%s,,,%.6e\n", p, s, w, w / s }' >>"$OUT/headline.csv"
done

echo "== headline: 2D, gamma = 2, m = 1.5 m_c, n = $N, t = 0..$T_END, sg, implicit (dt_max = $DT_MAX)"
awk -F, -v ranks="$RANKS" 'NR > 1 && $2 == "implicit" { imp[$1] = $0 } NR > 1 && $2 == "explicit_euler" { stage[$1] = $7 }
    END {
        printf "%5s %10s %7s %8s %9s %14s %16s %12s %14s\n", "ranks", "wall [s]", "steps", "Newton", "Krylov",
            "ms per step", "ms per stage", "step/stage", "Krylov/stage"
        k = split(ranks, order, " ")
        for (i = 1; i <= k; i++) {
            p = order[i]
            split(imp[p], c, ",")
            printf "%5s %10.2f %7d %8d %9d %14.3f %16.4f %12.1f %14.2f\n", p, c[4], c[3], c[5], c[6], 1e3 * c[7],
                1e3 * stage[p], c[7] / stage[p], (c[4] / c[6]) / stage[p]
        }
    }' "$OUT/headline.csv"
echo "(ms per stage: one explicit forward-Euler sg stage on the same grid and rank count, $STAGE_STEPS steps;"
echo " Krylov/stage: wall time per Krylov iteration in explicit stages; CSV: $OUT/headline.csv)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) core(s) (shared machines make these figures noisy)"
