#!/usr/bin/env bash
# Runs a command in the arm64 tree under qemu: `node` is the arm64 Node.js; FFmpeg is
# the arm64 one (FFMPEG_PATH). In its own mount namespace, /proc/cpuinfo shows arm64
# cores (see prepare.sh). Needs root (or user namespaces) for the namespace.
#
#   scripts/arm64/run.sh node dist/agent/cli.js detect test/fixtures/dog.jpg
set -euo pipefail
cache=${EDGECAM_ARM64_CACHE:-$HOME/.cache/edgecam-arm64}
[ -x "$cache/node/bin/node" ] || { echo "arm64: run scripts/arm64/prepare.sh first" >&2; exit 1; }
[ "${1:-}" = node ] && { shift; set -- "$cache/node/bin/node" "$@"; }
cd "$cache/tree"
export FFMPEG_PATH=${FFMPEG_PATH:-$cache/bin/ffmpeg}
# shellcheck disable=SC2016 # expanded by the inner shell, from its arguments
exec unshare -m sh -c 'mount --bind "$0/cpuinfo" /proc/cpuinfo && exec qemu-aarch64-static -L "$0/sysroot" "$@"' "$cache" "$@"
