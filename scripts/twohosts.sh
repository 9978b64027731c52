#!/usr/bin/env bash
# Two MPI "hosts" on one Linux machine, for testing what crosses a network.
#
# Each host is a network namespace with an address of its own; a veth pair joins them. OpenMPI
# is told to use only its TCP transport on that pair's subnet (no shared memory between the
# ranks of different hosts) and to start the remote daemon through this script as its rsh agent,
# which enters the namespace the host name (an address) belongs to. The file system stays shared,
# as on a cluster with a parallel file system.
#
#   scripts/twohosts.sh up                  create the two hosts (needs root and iproute2)
#   scripts/twohosts.sh down                remove them (safe to repeat; removes only our names)
#   scripts/twohosts.sh status              show whether they exist and their addresses
#   scripts/twohosts.sh hosts               print the mpirun host list "ADDR0:1,ADDR1:1"
#   scripts/twohosts.sh run [-n A,B] CMD... mpirun across the hosts: A ranks on host 0 and B on
#                                           host 1 (default 1,1), then CMD (e.g. target/release/nlfp
#                                           forward configs/condensation.toml --out runs/x)
#   scripts/twohosts.sh agent HOST CMD...   the rsh agent OpenMPI calls (plm_rsh_agent)
#
# Settings (environment; the agent reads the same ones, inherited from mpirun):
#   NLFP_TWOHOSTS_NAME    prefix of the names made (default nlfp2h, at most 9 characters):
#                         namespaces NAME0 and NAME1, veth ends NAMEv0 and NAMEv1
#   NLFP_TWOHOSTS_SUBNET  first three octets of the /24 used (default 10.231.7): host 0 is .1,
#                         host 1 is .2
#   NLFP_TWOHOSTS_MPIRUN_ARGS  extra mpirun arguments for `run` (e.g. "-x RUST_LOG")
#
# On a real cluster none of this is needed: pass a hostfile and the transport settings to mpirun,
# e.g. `mpirun --hostfile hosts.txt --mca btl tcp,self --mca btl_tcp_if_include eth0 ...`
# (README, "Slurm, clusters, scaling").
set -euo pipefail

NAME="${NLFP_TWOHOSTS_NAME:-nlfp2h}"
SUBNET="${NLFP_TWOHOSTS_SUBNET:-10.231.7}"
NS0="${NAME}0"
NS1="${NAME}1"
VETH0="${NAME}v0"
VETH1="${NAME}v1"
ADDR0="${SUBNET}.1"
ADDR1="${SUBNET}.2"
SELF="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/$(basename "${BASH_SOURCE[0]}")"

die() {
    echo "twohosts: $*" >&2
    exit 1
}

check_settings() {
    [[ ${#NAME} -le 9 && "$NAME" =~ ^[A-Za-z][A-Za-z0-9_]*$ ]] ||
        die "NLFP_TWOHOSTS_NAME='$NAME': expected a letter then letters/digits/_, at most 9 characters"
    [[ "$SUBNET" =~ ^[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}$ ]] ||
        die "NLFP_TWOHOSTS_SUBNET='$SUBNET': expected three octets such as 10.231.7"
}

exists() {
    ip netns list 2>/dev/null | awk '{print $1}' | grep -qx "$1"
}

up() {
    check_settings
    [ "$(id -u)" -eq 0 ] || die "up needs root (network namespaces)"
    command -v ip >/dev/null || die "up needs iproute2 (ip)"
    if exists "$NS0" || exists "$NS1"; then
        die "hosts $NS0/$NS1 exist already (scripts/twohosts.sh down first)"
    fi
    # Undo a half-made set-up if any step fails.
    trap 'down >/dev/null 2>&1 || true' ERR
    ip netns add "$NS0"
    ip netns add "$NS1"
    ip link add "$VETH0" type veth peer name "$VETH1"
    ip link set "$VETH0" netns "$NS0"
    ip link set "$VETH1" netns "$NS1"
    ip -n "$NS0" addr add "$ADDR0/24" dev "$VETH0"
    ip -n "$NS1" addr add "$ADDR1/24" dev "$VETH1"
    for ns in "$NS0" "$NS1"; do ip -n "$ns" link set lo up; done
    ip -n "$NS0" link set "$VETH0" up
    ip -n "$NS1" link set "$VETH1" up
    trap - ERR
    echo "twohosts: up: $NS0 = $ADDR0, $NS1 = $ADDR1 (veth $VETH0 <-> $VETH1)"
}

down() {
    check_settings
    # Deleting a namespace removes the veth end inside it and with it its peer.
    for ns in "$NS0" "$NS1"; do
        if exists "$ns"; then
            ip netns pids "$ns" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
            ip netns del "$ns"
        fi
    done
    # A veth left in the root namespace by a set-up that failed half way.
    for link in "$VETH0" "$VETH1"; do
        if ip link show "$link" >/dev/null 2>&1; then ip link del "$link" 2>/dev/null || true; fi
    done
    echo "twohosts: down: $NS0, $NS1 removed"
}

status() {
    check_settings
    for ns in "$NS0" "$NS1"; do
        if exists "$ns"; then
            echo "$ns: $(ip -n "$ns" -o -4 addr show | awk '$2 != "lo" {print $2, $4}')"
        else
            echo "$ns: absent"
        fi
    done
}

agent() {
    # OpenMPI calls: AGENT HOST COMMAND... (the command is one shell line, possibly in pieces).
    check_settings
    local host="$1"
    shift
    local ns
    case "$host" in
        "$ADDR0") ns="$NS0" ;;
        "$ADDR1") ns="$NS1" ;;
        *) die "agent: unknown host '$host' (expected $ADDR0 or $ADDR1)" ;;
    esac
    exec ip netns exec "$ns" /bin/sh -c "$*"
}

run() {
    check_settings
    local per_host="1,1"
    if [ "${1:-}" = "-n" ]; then
        per_host="$2"
        shift 2
    fi
    [[ "$per_host" =~ ^[0-9]+,[0-9]+$ ]] || die "run -n '$per_host': expected A,B (ranks per host)"
    local a="${per_host%,*}" b="${per_host#*,}"
    [ $((a + b)) -gt 0 ] || die "run -n '$per_host': no ranks"
    [ $# -gt 0 ] || die "run: no command given"
    exists "$NS0" && exists "$NS1" || die "run: hosts absent (scripts/twohosts.sh up first)"
    local hosts=()
    [ "$a" -gt 0 ] && hosts+=("$ADDR0:$a")
    [ "$b" -gt 0 ] && hosts+=("$ADDR1:$b")
    local IFS=,
    local hostlist="${hosts[*]}"
    unset IFS
    # shellcheck disable=SC2086
    exec ip netns exec "$NS0" mpirun -n $((a + b)) --host "$hostlist" \
        --mca plm_rsh_agent "$SELF agent" \
        --mca pml ob1 --mca btl tcp,self \
        --mca btl_tcp_if_include "$SUBNET.0/24" --mca oob_tcp_if_include "$SUBNET.0/24" \
        ${NLFP_TWOHOSTS_MPIRUN_ARGS:-} "$@"
}

cmd="${1:-}"
[ $# -gt 0 ] && shift
case "$cmd" in
    up) up ;;
    down) down ;;
    status) status ;;
    hosts) check_settings && echo "$ADDR0:1,$ADDR1:1" ;;
    agent) agent "$@" ;;
    run) run "$@" ;;
    *)
        sed -n '2,/^set -euo/p' "$SELF" | sed '$d; s/^# \{0,1\}//'
        [ -z "$cmd" ] && exit 0
        exit 2
        ;;
esac
