#!/usr/bin/env bash
# Packs a release: the project's files and the built JavaScript, without tests and
# without node_modules, as edgecam-<version>.tar.gz. A Raspberry Pi then needs no
# TypeScript compiler and no dev dependencies: unpack it, run scripts/install.sh, and the
# installer's `npm ci --omit=dev` fetches the arm64 native packages from npm.
#
#   npm run release            # on any machine; then on the Pi:
#   tar xzf edgecam-*.tar.gz && cd edgecam-* && sudo scripts/install.sh --instance front
#
# With --stage DIR the files are copied into DIR instead (scripts/arm64/prepare.sh).
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
cd "$src"
npm run -s build
files() { { git ls-files -z -- . ':!:test' ':!:.ci'; find dist/agent dist/scripts -type f -print0; } | xargs -0 cp --parents -t "$1"; }
if [ "${1:-}" = --stage ]; then
  mkdir -p "${2:?--stage needs a directory}"
  files "$2"
  exit 0
fi
version=$(node -p 'require("./package.json").version')
name="edgecam-$version"
out="$src/$name.tar.gz"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
files "$stage/$name"
tar czf "$out" -C "$stage" "$name"
echo "release: $out ($(du -h "$out" | cut -f1))"
