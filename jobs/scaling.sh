#!/usr/bin/env bash
# Strong and weak scaling study of nlfp forward.
#
#   jobs/scaling.sh MAX_RANKS [OUT_DIR]            e.g. jobs/scaling.sh 4 runs/scaling
#   sbatch --ntasks=16 --wrap "jobs/scaling.sh 16 runs/scaling-16"   (inside an allocation: srun)
#
# * strong: grid.n = STRONG_N (default 801) on 1, 2, 4, ... ranks up to MAX_RANKS (MAX_RANKS itself
#   is included when it is not a power of two);
# * weak:   about WEAK_N^2 cells per rank (default WEAK_N = 401): grid.n = WEAK_N * sqrt(P) rounded to
#   the nearest odd integer.
# Every run is `LAUNCH nlfp forward configs/scaling.toml --set grid.n=N --set time.max_steps=STEPS`
# (default STEPS = 200); the wall time is the `wall_seconds` column of the last row of the run's
# diagnostics.csv (or, failing that, the time of the `done:` log line), the best of REPEAT runs
# (default 1).
#
# Writes OUT_DIR/scaling.csv with columns
#   mode,ranks,n,steps,wall_seconds,cell_updates_per_second,efficiency
# where cell_updates_per_second = n^dim * steps / wall_seconds and efficiency = the throughput per rank
# relative to the 1-rank run of the same mode (strong: T1 / (P * TP); weak: the same per cell),
# and OUT_DIR/scaling.png (speedup and efficiency vs ranks, python3 + matplotlib; matplotlib is
# installed into a virtualenv under ~/.cache/nlfp/plot-venv with pip when python3 lacks it; set
# NLFP_NO_PLOT=1 to skip the plot). Run directories and logs are under OUT_DIR/runs and OUT_DIR/logs.
#
# Environment: NLFP_BIN (default target/release/nlfp), CONFIG (default configs/scaling.toml),
#   STEPS, STRONG_N, WEAK_N, MODES (default "strong weak"), REPEAT,
#   NLFP_LAUNCHER auto|mpirun|srun (auto: srun --mpi=pmix inside a Slurm allocation when this Slurm
#   has PMIx, else mpirun), NLFP_SRUN_ARGS, NLFP_MPIRUN_ARGS.
# Ranks beyond the cores run oversubscribed (their efficiency then says so, not the code).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)

MAX=${1:?usage: jobs/scaling.sh MAX_RANKS [OUT_DIR]}
OUT=${2:-runs/scaling}
[[ "$MAX" =~ ^[1-9][0-9]*$ ]] || { echo "scaling: MAX_RANKS must be a positive integer" >&2; exit 2; }
NLFP_BIN=${NLFP_BIN:-$ROOT/target/release/nlfp}
CONFIG=${CONFIG:-$ROOT/configs/scaling.toml}
STEPS=${STEPS:-200}
STRONG_N=${STRONG_N:-801}
WEAK_N=${WEAK_N:-401}
MODES=${MODES:-strong weak}
REPEAT=${REPEAT:-1}

export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
export OMPI_MCA_rmaps_base_oversubscribe=${OMPI_MCA_rmaps_base_oversubscribe:-1}
export OMPI_MCA_io=${OMPI_MCA_io:-^ompio}
export OMPI_MCA_btl_vader_single_copy_mechanism=${OMPI_MCA_btl_vader_single_copy_mechanism:-none}

[ -x "$NLFP_BIN" ] || { echo "scaling: no binary $NLFP_BIN (cargo build --release, or set NLFP_BIN)" >&2; exit 2; }
[ -f "$CONFIG" ] || { echo "scaling: no config $CONFIG" >&2; exit 2; }
DIM=$(awk -F= '/^\[/ { sec = $0 } sec == "[grid]" && $1 ~ /^ *dim *$/ { gsub(/[ \t]/, "", $2); print $2; exit }' "$CONFIG")
DIM=${DIM:-2}

launcher=${NLFP_LAUNCHER:-auto}
if [ "$launcher" = auto ]; then
    launcher=mpirun
    if [ -n "${SLURM_JOB_ID:-}" ] && command -v srun >/dev/null 2>&1 \
        && { [ -n "${NLFP_SRUN_ARGS+x}" ] || srun --mpi=list 2>&1 | grep -qw pmix; }; then
        launcher=srun
    fi
fi
launch() { # ranks, then the command
    local p=$1; shift
    case "$launcher" in
        srun) local a; read -r -a a <<<"${NLFP_SRUN_ARGS---mpi=pmix}"; srun "${a[@]}" -n "$p" "$@" ;;
        mpirun) local a; read -r -a a <<<"${NLFP_MPIRUN_ARGS:-}"; mpirun -n "$p" "${a[@]}" "$@" ;;
        *) echo "scaling: unknown NLFP_LAUNCHER=$launcher" >&2; return 2 ;;
    esac
}

ranks=()
for ((p = 1; p <= MAX; p *= 2)); do ranks+=("$p"); done
[ "${ranks[-1]}" -eq "$MAX" ] || ranks+=("$MAX")

weak_n() { # P -> odd n closest to WEAK_N * sqrt(P)
    awk -v n0="$WEAK_N" -v p="$1" 'BEGIN { x = n0 * sqrt(p); k = int((x - 1) / 2 + 0.5); print 2 * k + 1 }'
}

# wall_seconds of the last row of diagnostics.csv; else the `done: ... in X` log line.
wall_of() { # run_dir log
    local w=""
    if [ -s "$1/diagnostics.csv" ]; then
        w=$(awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "wall_seconds") c = i; next }
                     c && NF >= c { w = $c } END { if (w != "") print w }' "$1/diagnostics.csv")
    fi
    if [ -z "$w" ]; then
        w=$(sed -n 's/.*done: .* in \([0-9.eE+-]*\)s.*/\1/p' "$2" | tail -n1)
    fi
    echo "$w"
}

mkdir -p "$OUT/runs" "$OUT/logs"
CSV=$OUT/scaling.csv
echo "mode,ranks,n,steps,wall_seconds,cell_updates_per_second,efficiency" >"$CSV"
echo "scaling: $NLFP_BIN, config $CONFIG, $STEPS steps, ranks ${ranks[*]}, launcher $launcher, $(nproc) cores here"

for mode in $MODES; do
    base=""
    for p in "${ranks[@]}"; do
        case "$mode" in
            strong) n=$STRONG_N ;;
            weak) n=$(weak_n "$p") ;;
            *) echo "scaling: unknown mode $mode (strong|weak)" >&2; exit 2 ;;
        esac
        best=""
        for ((r = 1; r <= REPEAT; r++)); do
            dir=$OUT/runs/$mode-p$p
            log=$OUT/logs/$mode-p$p-r$r.log
            if ! launch "$p" "$NLFP_BIN" forward "$CONFIG" --out "$dir" --overwrite \
                --set "grid.n=$n" --set "time.max_steps=$STEPS" >"$log" 2>&1; then
                echo "scaling: $mode run on $p ranks failed; see $log" >&2
                tail -n 20 "$log" >&2
                exit 1
            fi
            w=$(wall_of "$dir" "$log")
            [ -n "$w" ] || { echo "scaling: no wall time in $dir/diagnostics.csv nor $log" >&2; exit 1; }
            best=$(awk -v a="$best" -v b="$w" 'BEGIN { if (a == "" || b + 0 < a + 0) printf "%.6g", b; else print a }')
        done
        cups=$(awk -v n="$n" -v d="$DIM" -v s="$STEPS" -v w="$best" 'BEGIN { printf "%.6g", n ^ d * s / w }')
        # Reference: the throughput per rank of the first (1-rank) run of this mode.
        [ -n "$base" ] || base=$(awk -v c="$cups" -v p="$p" 'BEGIN { printf "%.9g", c / p }')
        eff=$(awk -v c="$cups" -v p="$p" -v b="$base" 'BEGIN { printf "%.4f", c / (p * b) }')
        line="$best,$cups,$eff"
        echo "$mode,$p,$n,$STEPS,$line" >>"$CSV"
        echo "scaling: $mode P=$p n=$n: wall $best s, $cups cell-updates/s, efficiency $eff"
    done
done
echo "scaling: wrote $CSV"

plot_python() {
    if python3 -c 'import matplotlib' >/dev/null 2>&1; then echo python3; return 0; fi
    local venv=${NLFP_PLOT_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/nlfp/plot-venv}
    if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import matplotlib' >/dev/null 2>&1; then
        echo "$venv/bin/python"; return 0
    fi
    echo "scaling: installing matplotlib into $venv (pip)" >&2
    python3 -m venv "$venv" >&2 && "$venv/bin/python" -m pip install -q matplotlib >&2 \
        && echo "$venv/bin/python"
}
if [ -z "${NLFP_NO_PLOT:-}" ]; then
    if py=$(plot_python) && [ -n "$py" ]; then
        MPLBACKEND=Agg "$py" "$HERE/plot_scaling.py" "$CSV" "$OUT/scaling.png"
    else
        echo "scaling: no matplotlib (python3 -m pip install matplotlib); the plot is skipped" >&2
    fi
fi
