#!/usr/bin/env bash
# Removes edgecam: stops and disables every instance, removes the unit and the
# installed files. Settings (/etc/edgecam) and state (/var/lib/edgecam) stay unless
# --purge is given.
#
#   sudo scripts/uninstall.sh [--prefix DIR] [--purge]
#
# DESTDIR=/some/dir works on that tree instead of / (for tests).
set -euo pipefail

prefix=/opt/edgecam
purge=no
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) prefix=${2:?--prefix needs a directory}; shift 2 ;;
    --purge) purge=yes; shift ;;
    -h|--help) sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "uninstall.sh: unknown option $1 (see --help)" >&2; exit 64 ;;
  esac
done
destdir=${DESTDIR:-}
case "$prefix" in
  /|""|/usr|/etc|/var|/opt) echo "uninstall.sh: refusing to remove --prefix $prefix" >&2; exit 64 ;;
esac

if [ -z "$destdir" ] && command -v systemctl >/dev/null; then
  for unit in $(systemctl list-units --all --plain --no-legend 'edgecam@*.service' | awk '{print $1}'); do
    systemctl disable --now "$unit" || true
  done
fi
rm -f "$destdir/etc/systemd/system/edgecam@.service"
rm -rf -- "$destdir$prefix"
if [ -z "$destdir" ] && command -v systemctl >/dev/null; then systemctl daemon-reload; fi
if [ "$purge" = yes ]; then
  rm -rf "$destdir/etc/edgecam" "$destdir/var/lib/edgecam" "$destdir/var/lib/private/edgecam"
  echo "edgecam uninstall: removed, settings and state included"
else
  echo "edgecam uninstall: removed; settings in /etc/edgecam and state in /var/lib/edgecam are kept (--purge removes them)"
fi
