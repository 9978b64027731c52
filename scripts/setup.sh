#!/usr/bin/env bash
# Install the system libraries nlfp needs, only when they are absent.
#
# On a cluster, load modules instead (an MPI, a parallel HDF5 built against it, libclang):
# this script only checks there and installs nothing unless apt-get is available and something
# is missing.  Set NLFP_NO_APT=1 to forbid apt-get entirely.
set -euo pipefail

missing=()
have_cmd() { command -v "$1" >/dev/null 2>&1; }

have_cmd mpicc || missing+=(libopenmpi-dev)
have_cmd mpirun || missing+=(openmpi-bin)
have_cmd pkg-config || missing+=(pkg-config)
# Parallel HDF5: the Debian package ships hdf5-openmpi.pc; a module usually sets HDF5_DIR.
if [ -z "${HDF5_DIR:-}" ] && ! pkg-config --exists hdf5-openmpi 2>/dev/null; then
    missing+=(libhdf5-openmpi-dev)
fi
# bindgen (mpi-sys, hdf5-sys) needs libclang.
if [ -z "${LIBCLANG_PATH:-}" ] && ! ls /usr/lib/llvm-*/lib/libclang.so* /usr/lib/*/libclang-*.so.* >/dev/null 2>&1 \
    && ! ldconfig -p 2>/dev/null | grep -qE 'libclang(-[0-9.]+)?\.so'; then
    missing+=(libclang-dev)
fi
# h5dump, used by the tests to check files independently of our reader.
have_cmd h5dump || missing+=(hdf5-tools)

if [ ${#missing[@]} -eq 0 ]; then
    echo "setup: system packages present"
    exit 0
fi

echo "setup: missing system packages: ${missing[*]}"
if [ -n "${NLFP_NO_APT:-}" ] || ! have_cmd apt-get; then
    echo "setup: cannot install them here (no apt-get or NLFP_NO_APT set); load the matching modules" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup: installed ${missing[*]}"
