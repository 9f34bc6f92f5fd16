#!/usr/bin/env bash
# Everything the project needs on a fresh Debian machine: the libraries node-canvas compiles
# against (as root, or through sudo), then the npm packages from the lockfile.
set -euo pipefail
cd "$(dirname "$0")/.."

# canvas compiles against Cairo and Pango; jekyll builds the fixture site and chromium opens pages in the tests;
# jq reads the GitHub API answers the figures-diff comment workflow parses (its test runs that filter);
# munge, slurmctld, slurmd and slurm-client run a one-node Slurm cluster for the scaling-out tests.
PKGS=(build-essential pkg-config python3 git jq libcairo2-dev libpango1.0-dev libjpeg-dev libgif-dev librsvg2-dev jekyll chromium munge slurmctld slurmd slurm-client)
missing=()
for p in "${PKGS[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if ((${#missing[@]})); then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The gpu engine's tests run WebGPU (Dawn, npm's `webgpu`) on Mesa's lavapipe, a software Vulkan. Dawn refuses
# bookworm's Mesa 22.3.6, so mesa-vulkan-drivers alone comes from bookworm-backports (25.x), through a deb822 file
# that names the mirror and keyring the machine's own Debian sources name.
if [ -f /etc/debian_version ] && ! dpkg-query -W -f='${Version}' mesa-vulkan-drivers 2>/dev/null | grep -q bpo; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO=sudo
  src=/etc/apt/sources.list.d/debian.sources
  uri=$(sed -n 's/^URIs: *//p' "$src" 2>/dev/null | grep -v security | head -1)
  key=$(sed -n 's/^Signed-By: *//p' "$src" 2>/dev/null | head -1)
  echo "setup: installing mesa-vulkan-drivers from bookworm-backports (${uri:-http://deb.debian.org/debian})"
  printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: %s\n' \
    "${uri:-http://deb.debian.org/debian}" "${key:-/usr/share/keyrings/debian-archive-keyring.gpg}" | $SUDO tee /etc/apt/sources.list.d/backports.sources >/dev/null
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers >/dev/null
fi

# package.json's allowScripts lets canvas (compiled here against Cairo/Pango), esbuild and nx run their install scripts.
npm ci --no-audit --no-fund
node -e "require('canvas')" 2>/dev/null || npm rebuild canvas
node -e "require('canvas')"
echo "setup: done"
