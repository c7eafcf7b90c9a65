#!/usr/bin/env bash
# Installs (or upgrades) cellwatch from a release bundle made by scripts/bundle.sh:
#   /opt/cellwatch/releases/<version>-<commit>/   one folder per release; current and previous are symlinks
#   /usr/local/bin/cellwatch                      -> /opt/cellwatch/current/bin/cellwatch
#   /etc/cellwatch/cellwatch.yaml                 the example configuration, only when there is none
#   /etc/systemd/system/cellwatch.service         the unit, enabled; a running service is restarted
#   /var/lib/cellwatch                            state (buffer, models), owned by the system user cellwatch
# An upgrade never touches /etc/cellwatch or /var/lib/cellwatch; `install.sh --rollback` returns to the
# previous release.
#
# usage: scripts/install.sh [--bundle FILE.tar.gz] [--prefix DIR] [--no-start] [--rollback]
#   --bundle    the bundle to install; default: the release folder this script is in (when run from an
#               unpacked bundle), else one built now from this checkout with scripts/bundle.sh
#   --prefix    install everything under DIR, with the paths inside the unit and the configuration pointing
#               into DIR: no user, no systemctl, nothing outside DIR (tests, trying it out)
#   DESTDIR     (environment) stage the files under DESTDIR with their final paths, for packaging: no user,
#               no systemctl
#   --no-start  install and enable, but do not start or restart the service
#   --rollback  make the previous release current again (and restart the service)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUNDLE=""
PREFIX=""
START=1
ROLLBACK=0
usage() { echo "install: $* (see --help)" >&2; exit 64; }
value() { [ $# -ge 2 ] && [ -n "$2" ] || usage "$1 needs a value"; }
while [ $# -gt 0 ]; do
  case $1 in
    --bundle) value "$@"; BUNDLE=$2; shift 2 ;;
    --prefix) value "$@"; PREFIX=$2; shift 2 ;;
    --no-start) START=0; shift ;;
    --rollback) ROLLBACK=1; shift ;;
    -h | --help) sed -n '2,19p' "$0"; exit 0 ;;
    *) usage "unknown option $1" ;;
  esac
done
# The prefix is written into the unit and the configuration: characters that systemd or sed would read
# otherwise (spaces, %, #, &, backslash) are refused rather than quoted.
case $PREFIX in *[!A-Za-z0-9._/+-]*) usage "--prefix may hold only letters, digits and . _ / + -" ;; esac
if [ -n "$BUNDLE" ]; then
  [ -f "$BUNDLE" ] || usage "bundle $BUNDLE not found"
  BUNDLE=$(readlink -f "$BUNDLE")
fi

say() { echo "install: $*"; }
die() { echo "install: $*" >&2; exit 1; }

if [ -n "$PREFIX" ]; then
  mkdir -p "$PREFIX"
  ROOT=$(cd "$PREFIX" && pwd)
  MODE=prefix
elif [ -n "${DESTDIR:-}" ]; then
  mkdir -p "$DESTDIR"
  ROOT=$(cd "$DESTDIR" && pwd)
  MODE=destdir
else
  ROOT=""
  MODE=system
  [ "$(id -u)" = 0 ] || die "run as root (or use --prefix DIR to try it without touching the machine)"
  # Checked before anything is changed: without systemd the install would stop half-way at systemctl.
  [ -d /run/systemd/system ] || die "systemd is not running here; use --prefix DIR (or DESTDIR) instead"
fi
# In prefix mode the installed files name their real locations inside the prefix.
if [ "$MODE" = prefix ]; then LIVE=$ROOT; else LIVE=""; fi
OPT=$ROOT/opt/cellwatch
ETC=$ROOT/etc/cellwatch
STATE=$ROOT/var/lib/cellwatch
UNIT=$ROOT/etc/systemd/system/cellwatch.service
LINK=$ROOT/usr/local/bin/cellwatch

service_active() { [ "$MODE" = system ] && systemctl is-active --quiet cellwatch.service; }
restart_service() {
  if [ "$MODE" != system ]; then say "($MODE mode: systemctl skipped)"; return; fi
  systemctl daemon-reload
  if [ "$START" = 1 ]; then
    say "restarting cellwatch.service"
    systemctl restart cellwatch.service
    systemctl --no-pager --lines=0 status cellwatch.service || true
  fi
}
# Point a symlink somewhere else atomically: a new link renamed over the old one.
relink() { ln -sfn "$1" "$2.new" && mv -T "$2.new" "$2"; }

if [ "$ROLLBACK" = 1 ]; then
  [ -L "$OPT/current" ] || die "no current release under $OPT: nothing to roll back"
  [ -L "$OPT/previous" ] || die "no previous release under $OPT to roll back to"
  from=$(readlink "$OPT/current")
  to=$(readlink "$OPT/previous")
  [ -x "$OPT/$to/bin/cellwatch" ] || die "the previous release $to is gone or incomplete; nothing changed"
  relink "$to" "$OPT/current"
  relink "$from" "$OPT/previous"
  say "rolled back: current is now $(basename "$to") (was $(basename "$from"))"
  restart_service
  exit 0
fi

# ---- the bundle, unpacked
WORK=$(mktemp -d "${TMPDIR:-/tmp}/cellwatch-install.XXXXXX")
# A release copied only in part (a full disk, an interrupted run) is removed on the way out, whatever failed.
PARTIAL=""
trap 'rm -rf "$WORK" ${PARTIAL:+"$PARTIAL"}' EXIT
if [ -n "$BUNDLE" ]; then
  tar -xzf "$BUNDLE" -C "$WORK" 2>"$WORK/tar.err" ||
    die "cannot unpack $BUNDLE into ${TMPDIR:-/tmp}: $(grep -m 1 . "$WORK/tar.err" || echo "tar failed")" \
      "(not a bundle from scripts/bundle.sh, cut short, or no room)"
  SRC=$(find "$WORK" -mindepth 1 -maxdepth 1 -type d | head -1)
  [ -n "$SRC" ] || die "$BUNDLE holds no release folder (not a bundle from scripts/bundle.sh)"
elif [ -f "$HERE/../BUILD-INFO" ]; then
  SRC=$(cd "$HERE/.." && pwd)
else
  say "no bundle given: building one from this checkout"
  BUNDLE=$(bash "$HERE/bundle.sh" --out "$WORK/out" | tail -1)
  tar -xzf "$BUNDLE" -C "$WORK"
  SRC=$WORK/cellwatch-$(node -p 'require(process.argv[1]).version' "$HERE/../package.json")
fi
[ -f "$SRC/BUILD-INFO" ] || die "$SRC is not a cellwatch release (no BUILD-INFO)"
info() { sed -n "s/^$1=//p" "$SRC/BUILD-INFO"; }
RELEASE=$(info version)-$(info commit)
# The release name becomes a folder name under releases/: nothing that could climb out of it.
[[ $RELEASE =~ ^[A-Za-z0-9][A-Za-z0-9._+-]*$ ]] || die "BUILD-INFO gives an unusable release name: $RELEASE"
for part in bin/cellwatch dist/cli/main.js node_modules deploy/cellwatch.service deploy/cellwatch.example.yaml; do
  [ -e "$SRC/$part" ] || die "the bundle lacks $part; nothing installed"
done
platform=$(info platform)
here_platform=linux-$(uname -m | sed 's/x86_64/x64/; s/aarch64/arm64/')
[ "$platform" = "$here_platform" ] || die "bundle is for $platform, this machine is $here_platform"
say "installing $RELEASE ($platform, node $(info node_pinned)) into ${ROOT:-/} ($MODE mode)"

# ---- the user, in system mode only
if [ "$MODE" = system ] && ! id cellwatch >/dev/null 2>&1; then
  say "creating system user cellwatch"
  useradd --system --user-group --home-dir /var/lib/cellwatch --no-create-home \
    --shell /usr/sbin/nologin --comment "cellwatch edge agent" cellwatch
fi
owner() { if [ "$MODE" = system ]; then chown "$@"; fi; }

# ---- the release: copied next to the others, then made current in one rename
mkdir -p "$OPT/releases"
target=$OPT/releases/$RELEASE
if [ -d "$target" ]; then
  # The same name with other files (a rebuild of the same commit) would replace the only copy of a release that
  # current or previous may name, leaving nothing to roll back to: it needs a name of its own.
  diff -rq --no-dereference "$SRC" "$target" >/dev/null 2>&1 ||
    die "release $RELEASE is installed already with other files; build the new one from its own commit" \
      "(BUILD-INFO names the release); nothing changed"
  say "release $RELEASE is installed already: nothing to copy"
else
  # Room for the release and 64 MiB more, checked before copying: a disk filled by a failed upgrade would make
  # the running agent drop buffered rows.
  need_kb=$(( $(du -sk "$SRC" | cut -f1) + 65536 ))
  free_kb=$(df -Pk "$OPT/releases" | awk 'NR == 2 { print $4 }')
  [ "$free_kb" -ge "$need_kb" ] ||
    die "not enough room under $OPT: the release needs $((need_kb / 1024)) MiB with margin," \
      "$((free_kb / 1024)) MiB free; nothing changed"
  PARTIAL=$target.new
  rm -rf "$target.new"
  cp -a "$SRC" "$target.new" 2>"$WORK/cp.err" ||
    die "copying the release failed: $(grep -m 1 . "$WORK/cp.err"); nothing changed"
  chmod -R go-w "$target.new"
  # Before it replaces anything, the new release must run here and load its compiled modules (a bundle for
  # another platform or Node ABI, or a damaged .node file, passes --version and then fails at every start).
  if ! "$target.new/bin/cellwatch" doctor --runtime >"$WORK/smoke.out" 2>&1; then
    reason=$(grep -m 1 -E '^(fail|error)' "$WORK/smoke.out" || tail -n 1 "$WORK/smoke.out")
    die "the new release does not run here: $reason; the installed one is unchanged"
  fi
  mv "$target.new" "$target"
  PARTIAL=""
fi

# ---- configuration (kept when present) and state
mkdir -p "$ETC/tls" "$ETC/keys" "$STATE/input" "$STATE/pm"
chmod 750 "$ETC" "$ETC/tls" "$ETC/keys" "$STATE" "$STATE/input"
# The drop folder of the example configuration: whoever delivers PM files (an sftp account of the element
# manager) joins the group cellwatch; setgid keeps the delivered files in that group.
chmod 2770 "$STATE/pm"
owner root:cellwatch "$ETC" "$ETC/tls" "$ETC/keys"
owner cellwatch:cellwatch "$STATE" "$STATE/input" "$STATE/pm"
if [ -L "$ETC/cellwatch.yaml" ] && [ ! -e "$ETC/cellwatch.yaml" ]; then
  # A link to a file that is not there now (a disk not mounted) is still the operator's configuration.
  say "keeping $LIVE/etc/cellwatch/cellwatch.yaml, a link to $(readlink "$ETC/cellwatch.yaml"), which is missing"
elif [ -e "$ETC/cellwatch.yaml" ]; then
  say "keeping the configuration $LIVE/etc/cellwatch/cellwatch.yaml"
else
  sed -e "s#/var/lib/cellwatch#$LIVE/var/lib/cellwatch#g" -e "s#/etc/cellwatch#$LIVE/etc/cellwatch#g" \
    -e "s#/opt/cellwatch#$LIVE/opt/cellwatch#g" "$target/deploy/cellwatch.example.yaml" > "$ETC/cellwatch.yaml.new"
  chmod 640 "$ETC/cellwatch.yaml.new"
  owner root:cellwatch "$ETC/cellwatch.yaml.new"
  mv "$ETC/cellwatch.yaml.new" "$ETC/cellwatch.yaml"
  say "example configuration installed: edit $LIVE/etc/cellwatch/cellwatch.yaml, then run" \
    "cellwatch run --config $LIVE/etc/cellwatch/cellwatch.yaml --check"
fi

# ---- the unit
mkdir -p "$(dirname "$UNIT")"
sed -e "s#/opt/cellwatch#$LIVE/opt/cellwatch#g" -e "s#/etc/cellwatch#$LIVE/etc/cellwatch#g" \
  -e "s#WorkingDirectory=/var/lib/cellwatch#WorkingDirectory=$LIVE/var/lib/cellwatch#" \
  "$target/deploy/cellwatch.service" > "$UNIT.new"
chmod 644 "$UNIT.new"
mv "$UNIT.new" "$UNIT"

# ---- the switch: current (and previous) in one rename each, then the command link and old releases
old=""
[ -L "$OPT/current" ] && old=$(readlink "$OPT/current")
if [ -n "$old" ] && [ "$old" != "releases/$RELEASE" ]; then relink "$old" "$OPT/previous"; else old=""; fi
relink "releases/$RELEASE" "$OPT/current"
mkdir -p "$(dirname "$LINK")"
ln -sfn "$LIVE/opt/cellwatch/current/bin/cellwatch" "$LINK"
# Keep current, previous and the newest other release; older ones go.
current=$(readlink "$OPT/current")
previous=$(readlink "$OPT/previous" 2>/dev/null || true)
spare=0
for r in $(cd "$OPT" && ls -1td releases/*); do
  if [ "$r" = "$current" ] || [ "$r" = "$previous" ]; then continue; fi
  spare=$((spare + 1))
  if [ "$spare" -gt 1 ]; then rm -rf "${OPT:?}/$r" && say "removed old release ${r#releases/}"; fi
done
if [ "$MODE" = system ]; then
  systemctl daemon-reload
  systemctl enable cellwatch.service
  if service_active; then restart_service
  elif [ "$START" = 1 ] &&
    runuser -u cellwatch -- "$LINK" run --config "$ETC/cellwatch.yaml" --check >/dev/null 2>&1; then
    systemctl start cellwatch.service
  else
    say "not started: check the configuration with cellwatch run --config /etc/cellwatch/cellwatch.yaml --check," \
      "then systemctl start cellwatch"
  fi
else
  say "($MODE mode: user creation and systemctl skipped)"
fi
say "done: $LIVE/opt/cellwatch/current -> releases/$RELEASE${old:+ (previous: ${old#releases/})}"
