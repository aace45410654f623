#!/bin/sh
# Installs the Debian 12 packages clt needs that are missing (as root, or
# through sudo). Does nothing when everything is there.
set -eu
pkgs="build-essential cmake pkg-config git ca-certificates \
      pocl-opencl-icd ocl-icd-opencl-dev opencl-headers libclblast-dev \
      libcmocka-dev clinfo valgrind dataset-fashion-mnist zlib1g-dev libdnnl-dev"
missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "clt: installing$missing" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# shellcheck disable=SC2086
$sudo apt-get install -y -qq $missing >/dev/null
