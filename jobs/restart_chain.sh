#!/usr/bin/env bash
# Submit a chain of N dependent jobs for one run (forward by default; NLFP_COMMAND=generate,
# particles, filter or study for the others, through jobs/nlfp.sbatch): each link starts when the previous one has
# ended, however it ended (--dependency=afterany), and resumes from the newest checkpoint in OUT
# (jobs/nlfp.sbatch always passes --restart auto). Use it for runs longer than the time limit:
# each job gets SIGUSR1 300 s before its limit (checkpoint and go on), then SIGTERM at the limit
# (checkpoint and exit); the next link continues. A link that finds OUT/final.h5 already written
# does nothing (a study link only rebuilds the table: its finished runs are kept).
#
#   jobs/restart_chain.sh CONFIG OUT N [extra nlfp forward args...]
#   SBATCH_OPTS="--ntasks=8 --time=04:00:00" jobs/restart_chain.sh configs/big.toml runs/big 5 \
#       --set checkpoint.every_seconds=1800
#
# Prints the N job ids, one per line, in order (messages go to stderr). Environment: SBATCH_OPTS
# (extra sbatch options, split on spaces), NLFP_COMMAND, NLFP_BIN and the other variables of
# jobs/nlfp.sbatch (sbatch passes the environment on).
set -euo pipefail

if [ $# -lt 3 ]; then
    echo "usage: jobs/restart_chain.sh CONFIG OUT N [extra nlfp forward args...]" >&2
    exit 2
fi
CONFIG=$1
OUT=$2
N=$3
shift 3
[[ "$N" =~ ^[1-9][0-9]*$ ]] || { echo "restart_chain: N must be a positive integer" >&2; exit 2; }
[ -f "$CONFIG" ] || { echo "restart_chain: no config $CONFIG" >&2; exit 2; }
command -v sbatch >/dev/null 2>&1 || { echo "restart_chain: sbatch not found" >&2; exit 2; }

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export NLFP_JOBS_DIR=$HERE
COMMAND=${NLFP_COMMAND:-forward}
SCRIPT=$HERE/nlfp.sbatch
read -r -a opts <<<"${SBATCH_OPTS:-}"

prev=""
for ((i = 1; i <= N; i++)); do
    dep=()
    [ -n "$prev" ] && dep=(--dependency="afterany:$prev")
    id=$(sbatch --parsable "${opts[@]}" "${dep[@]}" --job-name="nlfp-chain-$i" \
        "$SCRIPT" "$COMMAND" "$CONFIG" "$OUT" "$@")
    id=${id%%;*} # --parsable prints "id;cluster" on multi-cluster setups
    echo "restart_chain: link $i/$N: job $id${prev:+ (after $prev)}" >&2
    echo "$id"
    prev=$id
done
