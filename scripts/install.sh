#!/usr/bin/env bash
# Installs edgecam as a systemd service on Debian 12 / Raspberry Pi OS (arm64) and
# Ubuntu (x86_64). Idempotent: a second run changes nothing.
#
#   sudo scripts/install.sh [--instance NAME] [--prefix DIR] [--no-start] [--no-apt]
#
# DESTDIR=/some/dir installs into that tree instead of / (for packaging and tests);
# with DESTDIR set, or without systemctl, no service is enabled or started.
set -euo pipefail

instance=camera
prefix=/opt/edgecam
start=yes
apt=yes
while [ $# -gt 0 ]; do
  case "$1" in
    --instance) instance=${2:?--instance needs a name}; shift 2 ;;
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --no-start) start=no; shift ;;
    --no-apt) apt=no; shift ;;
    -h|--help) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done
case "$instance" in
  *[!A-Za-z0-9_-]*|"") echo "install.sh: --instance must be letters, digits, - or _" >&2; exit 64 ;;
esac

destdir=${DESTDIR:-}
src=$(cd "$(dirname "$0")/.." && pwd)
root="$destdir$prefix"
changed=0
say() { printf 'edgecam install: %s\n' "$*"; }
if [ -n "$destdir" ]; then
  say "installing into $destdir (as $prefix there)"
fi

# Node.js 20 or newer.
if ! command -v node >/dev/null; then
  echo "install.sh: Node.js 20 or newer is required (https://nodejs.org, or apt-get install nodejs on Debian 13 / Ubuntu 24.04)" >&2
  exit 1
fi
node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "install.sh: Node.js $(node --version) is too old; edgecam needs 20 or newer" >&2
  exit 1
fi

# FFmpeg from the distribution (hardware decoders included; the npm-shipped binary is
# the fallback), and python3, which carries the service's notifications to systemd.
if [ "$apt" = yes ] && [ -z "$destdir" ]; then
  missing=()
  command -v ffmpeg >/dev/null || missing+=(ffmpeg)
  command -v python3 >/dev/null || missing+=(python3)
  if [ ${#missing[@]} -gt 0 ]; then
    say "installing ${missing[*]} with apt"
    DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
fi

# The release: the built JavaScript, the bundled model and sample, the viewer's page.
if [ ! -f "$src/dist/agent/cli.js" ]; then
  say "building ($src)"
  (cd "$src" && npm ci --no-audit --no-fund && npm run build)
fi

# copy SRC DEST [MODE]: copies only when the content differs, so a re-run touches nothing.
copy() {
  local from=$1 to=$2 mode=${3:-0644}
  if [ -f "$to" ] && cmp -s "$from" "$to"; then return 0; fi
  install -D -m "$mode" "$from" "$to"
  changed=$((changed + 1))
}

release_files() {
  (cd "$src" && {
    printf '%s\n' package.json package-lock.json .npmrc .env.example README.md docs/counting-and-speed.md
    find dist/agent dist/scripts -type f -name '*.js'
    find models -path models/distill -prune -o -type f -print
    find agent/viewer/public agent/history/public systemd -type f
  })
}
while IFS= read -r file; do
  copy "$src/$file" "$root/$file"
done < <(release_files)

# Production dependencies, installed again only when the lock file changed.
stamp="$root/node_modules/.edgecam-lock.sha256"
want=$(sha256sum "$root/package-lock.json" | cut -d' ' -f1)
if [ "${EDGECAM_SKIP_NPM:-}" != 1 ] && { [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; }; then
  say "installing production dependencies in $root"
  (cd "$root" && npm ci --omit=dev --no-audit --no-fund)
  # onnxruntime-node ships every platform's native library in one package (220 MB of
  # them for macOS and Windows): keep this machine's only.
  ort="$root/node_modules/onnxruntime-node/bin"
  arch=$(node -p process.arch)
  if [ -d "$ort" ]; then
    find "$ort" -mindepth 2 -maxdepth 2 -type d ! -name linux -exec rm -rf {} +
    find "$ort" -mindepth 3 -maxdepth 3 -type d -path '*/linux/*' ! -name "$arch" -exec rm -rf {} +
  fi
  # The npm-shipped FFmpeg is the fallback for a machine without one; with the system's
  # (installed above, with its hardware decoders) it is 66 MB of nothing.
  if command -v ffmpeg >/dev/null; then
    rm -rf "$root"/node_modules/@ffmpeg-installer/linux-* "$root"/node_modules/@ffmpeg-installer/darwin-* "$root"/node_modules/@ffmpeg-installer/win32-*
  fi
  say "installed size: $(du -sh "$root" | cut -f1)"
  echo "$want" > "$stamp"
  changed=$((changed + 1))
fi

# The unit, pointing at the prefix.
unit_tmp=$(mktemp)
trap 'rm -f "$unit_tmp"' EXIT
sed "s#/opt/edgecam#$prefix#g" "$src/systemd/edgecam@.service" > "$unit_tmp"
copy "$unit_tmp" "$destdir/etc/systemd/system/edgecam@.service"

# The instance's settings: created once from .env.example, never overwritten. A new one
# gets a random HTTP_TOKEN, so the viewer is reachable from the network and only with it.
# The ports another instance's env file already takes (its setting, else the default), and,
# on the live system, the ports something listens on.
taken_ports() { # SETTING DEFAULT
  local f
  for f in "$destdir"/etc/edgecam/*.env; do
    [ -e "$f" ] || continue
    grep -E "^$1=[0-9]+" "$f" | tail -n 1 | cut -d= -f2 | grep . || echo "$2"
  done
  if [ -z "$destdir" ] && command -v ss >/dev/null; then ss -Hltn | awk '{ n = split($4, a, ":"); print a[n] }'; fi
}
free_port() { # SETTING DEFAULT
  local port=$2 taken
  taken=$(taken_ports "$1" "$2")
  while printf '%s\n' "$taken" | grep -qx "$port"; do port=$((port + 1)); done
  echo "$port"
}

envfile="$destdir/etc/edgecam/$instance.env"
if [ ! -e "$envfile" ]; then
  # Each instance gets ports no other one has: its viewer's, and its embedded broker's.
  http_port=$(free_port HTTP_PORT 8080)
  mqtt_port=$(free_port MQTT_EMBEDDED_PORT 1883)
  install -D -m 0600 "$src/.env.example" "$envfile"
  token=$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')
  {
    printf '\n# Written by scripts/install.sh: the HTTP token (keep it secret; change it here),\n'
    printf '# and ports no other instance on this box has.\n'
    printf 'HTTP_TOKEN=%s\nHTTP_PORT=%s\nMQTT_EMBEDDED_PORT=%s\n' "$token" "$http_port" "$mqtt_port"
  } >> "$envfile"
  say "created $envfile: set SOURCE, MQTT_URL and the rest there"
  say "viewer: http://$(hostname):$http_port/?token=$token"
  changed=$((changed + 1))
fi

if [ -z "$destdir" ] && command -v systemctl >/dev/null; then
  if [ "$changed" -gt 0 ]; then systemctl daemon-reload; fi
  if [ "$start" = yes ]; then
    if ! systemctl is-enabled --quiet "edgecam@$instance" 2>/dev/null; then
      systemctl enable --now --no-block "edgecam@$instance"
      say "started edgecam@$instance: journalctl -u edgecam@$instance -f"
    elif [ "$changed" -gt 0 ]; then
      systemctl restart --no-block "edgecam@$instance"
      say "restarted edgecam@$instance with the new files"
    fi
  fi
fi
say "done ($changed changes)"
