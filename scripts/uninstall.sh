#!/usr/bin/env bash
# Removes what scripts/install.sh installed: the service, the releases under /opt/cellwatch and the command
# link. The configuration (/etc/cellwatch), the state (/var/lib/cellwatch: buffer, models) and the user stay
# unless --purge is given.
#
# usage: scripts/uninstall.sh [--prefix DIR] [--purge]
set -euo pipefail

PREFIX=""
PURGE=0
usage() { echo "uninstall: $* (see --help)" >&2; exit 64; }
while [ $# -gt 0 ]; do
  case $1 in
    --prefix) [ $# -ge 2 ] && [ -n "$2" ] || usage "--prefix needs a value"; PREFIX=$2; shift 2 ;;
    --purge) PURGE=1; shift ;;
    -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
    *) usage "unknown option $1" ;;
  esac
done
say() { echo "uninstall: $*"; }

ROOT=""
if [ -n "$PREFIX" ]; then
  [ -d "$PREFIX" ] || { say "nothing under $PREFIX"; exit 0; }
  ROOT=$(cd "$PREFIX" && pwd)
elif [ "$(id -u)" != 0 ]; then
  echo "uninstall: run as root (or --prefix DIR)" >&2
  exit 1
fi

# Without a running systemd (a rescue shell, a container) there is no service to stop, only files to remove.
SYSTEMD=0
[ -z "$ROOT" ] && [ -d /run/systemd/system ] && SYSTEMD=1
if [ "$SYSTEMD" = 1 ] && systemctl cat cellwatch.service >/dev/null 2>&1; then
  say "stopping and disabling cellwatch.service"
  systemctl disable --now cellwatch.service || true
fi
rm -f "$ROOT/etc/systemd/system/cellwatch.service"
[ "$SYSTEMD" = 1 ] && systemctl daemon-reload || true
rm -f "$ROOT/usr/local/bin/cellwatch"
rm -rf "$ROOT/opt/cellwatch"
say "removed the service, $ROOT/opt/cellwatch and the cellwatch command"

if [ "$PURGE" = 1 ]; then
  rm -rf "$ROOT/etc/cellwatch" "$ROOT/var/lib/cellwatch"
  if [ -z "$ROOT" ] && id cellwatch >/dev/null 2>&1; then
    userdel cellwatch || true
    say "removed the user cellwatch"
  fi
  say "purged $ROOT/etc/cellwatch and $ROOT/var/lib/cellwatch"
else
  say "kept $ROOT/etc/cellwatch and $ROOT/var/lib/cellwatch (use --purge to remove them)"
fi
