#!/usr/bin/env bash
# The headline benchmark of issues 4 and 13: time to solution of the condensation run
#   2D, gamma = 2, m = 1.5 m_c, t = 0 .. 40, sg, implicit (backward Euler + Newton-Krylov,
#   time.dt_max = 0.1), the three Gaussian blobs of configs/condensation.toml,
# for every grid in NS, preconditioner in PRECONDITIONERS and rank count in RANKS, with the Newton
# and Krylov iteration totals, Newton failures and dt halvings, and the late centre-cell mass
# against its discrete prediction (5.118338 at n = 255, 5.026393 at 511, 4.980553 at 1023); and,
# when STAGE_STEPS > 0, the cost of one implicit step relative to one explicit sg stage on the same
# grid (STAGE_STEPS forward-Euler steps, one stage each, from the same initial data).
#
#   usage: benches/headline.sh [OUT_DIR]          (default: a temporary directory, removed)
#   env:   NLFP_BIN (default target/release/nlfp), NS (default "255 511 1023"), RANKS ("1 2"),
#          PRECONDITIONERS ("mg"; "mg ilu" compares), DT_MAX (0.1), T_END (40), STAGE_STEPS (0)
#
# Times are the `wall_seconds` of the last diagnostics row (the march, without start-up and the
# final write). Diagnostics are written only at the first and the last step, so the per-step
# diagnostics (entropy, symmetry gather) do not count. Prints the table of issue 13 and the ratios
# n_max / n_min per preconditioner and rank count, and writes OUT_DIR/headline.csv.
set -euo pipefail
cd "$(dirname "$0")/.."
NLFP_BIN=${NLFP_BIN:-target/release/nlfp}
NS=${NS:-255 511 1023}
RANKS=${RANKS:-1 2}
PRECONDITIONERS=${PRECONDITIONERS:-mg}
DT_MAX=${DT_MAX:-0.1}
T_END=${T_END:-40}
STAGE_STEPS=${STAGE_STEPS:-0}
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

common=(--set model.gamma=2.0 --set model.mass_ratio=1.5 --set time.scheme=sg
        --set output.diagnostics_every=100000000 --set output.progress_every=1e9
        --set output.snapshot_every=0 --set output.snapshot_dt=0.0)

# Column of the last row of a diagnostics CSV.
last() { # csv column
    awk -F, -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } { v = $k } END { print v }' "$1"
}
# The discrete prediction of the late centre-cell mass (issue 13), empty if not tabulated.
predicted() {
    case $1 in 255) echo 5.118338 ;; 511) echo 5.026393 ;; 1023) echo 4.980553 ;; *) echo "" ;; esac
}

printf 'n,preconditioner,ranks,kind,steps,wall_seconds,newton,krylov,newton_failures,dt_halvings,centre_mass,predicted_centre_mass,seconds_per_step\n' >"$OUT/headline.csv"
for n in $NS; do
    for np in $RANKS; do
        for pc in $PRECONDITIONERS; do
            dir="$OUT/implicit-n$n-$pc-$np"
            mpirun -n "$np" "$NLFP_BIN" forward configs/condensation.toml --out "$dir" --overwrite "${common[@]}" \
                --set grid.n="$n" --set time.stepper=implicit --set time.preconditioner="$pc" \
                --set time.dt_max="$DT_MAX" --set time.t_end="$T_END" \
                >"$dir.log" 2>&1 || { cat "$dir.log" >&2; exit 1; }
            csv="$dir/diagnostics.csv"
            printf '%s,%s,%s,implicit,%s,%s,%s,%s,%s,%s,%s,%s,%s\n' "$n" "$pc" "$np" \
                "$(last "$csv" step)" "$(last "$csv" wall_seconds)" "$(last "$csv" newton_iterations)" \
                "$(last "$csv" krylov_iterations)" "$(last "$csv" newton_failures)" \
                "$(last "$csv" dt_halvings)" "$(last "$csv" centre_mass)" "$(predicted "$n")" \
                "$(awk -v s="$(last "$csv" step)" -v w="$(last "$csv" wall_seconds)" 'BEGIN { printf "%.6e", w / s }')" \
                >>"$OUT/headline.csv"
        done
        if [ "$STAGE_STEPS" -gt 0 ]; then
            dir="$OUT/explicit-n$n-$np"
            mpirun -n "$np" "$NLFP_BIN" forward configs/condensation.toml --out "$dir" --overwrite "${common[@]}" \
                --set grid.n="$n" --set time.stepper=euler --set time.t_end=1e6 --set time.max_steps="$STAGE_STEPS" \
                >"$dir.log" 2>&1 || { cat "$dir.log" >&2; exit 1; }
            csv="$dir/diagnostics.csv"
            steps=$(last "$csv" step); wall=$(last "$csv" wall_seconds)
            awk -v n="$n" -v p="$np" -v s="$steps" -v w="$wall" \
                'BEGIN { printf "%s,,%s,explicit_euler,%s,%s,,,,,,,%.6e\n", n, p, s, w, w / s }' >>"$OUT/headline.csv"
        fi
    done
done

echo "== headline: 2D, gamma = 2, m = 1.5 m_c, t = 0..$T_END, sg, implicit (dt_max = $DT_MAX)"
awk -F, 'NR == 1 { next }
    $4 == "explicit_euler" { stage[$1 "," $3] = $13; next }
    { rows[++k] = $0 }
    END {
        printf "%5s %6s %5s %6s %7s %8s %8s %8s %6s %9s %10s %9s %11s\n", "n", "precond", "ranks", "steps", "Newton",
            "Krylov", "Kr/Nw", "failures", "halved", "wall [s]", "centre m", "rel err", "step/stage"
        for (i = 1; i <= k; i++) {
            split(rows[i], c, ",")
            err = c[12] == "" ? "" : sprintf("%.1e", (c[11] - c[12]) / c[12])
            st = stage[c[1] "," c[3]]
            ratio = st == "" ? "" : sprintf("%.1f", c[13] / st)
            printf "%5s %6s %5s %6d %7d %8d %8.2f %8d %6d %9.2f %10.6f %9s %11s\n", c[1], c[2], c[3], c[5], c[7], c[8],
                c[7] > 0 ? c[8] / c[7] : 0, c[9], c[10], c[6], c[11], err, ratio
        }
        # Ratios largest n / smallest n per preconditioner and rank count (issue 13 targets:
        # Krylov per Newton <= 10 and within 1.3x, steps and Newton within 1.5x, wall <= 20).
        for (i = 1; i <= k; i++) {
            split(rows[i], c, ",")
            key = c[2] " on " c[3] " rank(s)"
            if (!(key in lo) || c[1] + 0 < lo_n[key]) { lo[key] = rows[i]; lo_n[key] = c[1] + 0 }
            if (!(key in hi) || c[1] + 0 > hi_n[key]) { hi[key] = rows[i]; hi_n[key] = c[1] + 0 }
        }
        for (key in lo) {
            if (lo_n[key] == hi_n[key]) continue
            split(lo[key], a, ","); split(hi[key], b, ",")
            printf "%s, n = %d / n = %d: steps %.2fx, Newton %.2fx, Krylov per Newton %.2fx, wall %.2fx\n",
                key, b[1], a[1], b[5] / a[5], b[7] / a[7], (b[8] / b[7]) / (a[8] / a[7]), b[6] / a[6]
        }
    }' "$OUT/headline.csv"
echo "(Kr/Nw: Krylov per Newton iteration; failures: Newton failures; halved: dt halvings; rel err: late"
echo " centre-cell mass against the discrete prediction; step/stage: an implicit step in explicit sg"
echo " stages, when STAGE_STEPS > 0; CSV: $OUT/headline.csv)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) core(s) (shared machines make these figures noisy)"
