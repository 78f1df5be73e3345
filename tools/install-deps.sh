#!/usr/bin/env bash
# Installs what shardsim needs to build and test, from Debian 12 packages only, when it is missing.
# Idempotent: installs nothing when everything is present. Uses sudo when not run as root.
set -euo pipefail

packages=(
  build-essential cmake pkg-config g++ clang make
  catch2 libfmt-dev libcli11-dev libyaml-cpp-dev libxxhash-dev
  gcovr  # `make coverage` only
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#packages[@]} packages present"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
# Try without refreshing the index first (fast, offline-friendly); refresh only if that fails.
if ! $sudo apt-get install -y --no-install-recommends "${missing[@]}"; then
  $sudo apt-get update
  $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi
