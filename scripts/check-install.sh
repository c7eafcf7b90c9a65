#!/usr/bin/env bash
# The install, as CI checks it: build the release bundle, install it into a scratch prefix, verify the unit
# and its sandbox score, run `cellwatch doctor` against the install (first with the example configuration,
# which must fail, then with a working one after the agent ran once), upgrade to a second release (config and
# state kept), roll back, and uninstall. Exits non-zero on the first thing that is not as it should be.
#
# usage: scripts/check-install.sh [SCRATCH_DIR] [BROKER_URL]
#   SCRATCH_DIR defaults to a new temporary folder (removed at the end); BROKER_URL to mqtt://127.0.0.1:1883
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
SCRATCH=${1:-}
BROKER=${2:-mqtt://127.0.0.1:1883}
if [ -z "$SCRATCH" ]; then
  SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/cellwatch-install-check.XXXXXX")
  trap 'rm -rf "$SCRATCH"' EXIT
fi
P=$SCRATCH/root
OUT=$SCRATCH/out
rm -rf "$P" "$OUT"
step() { printf '\n== install check: %s\n' "$*"; }
fail() { echo "install check FAILED: $*" >&2; exit 1; }
# Reads a JSON file and evaluates a JavaScript expression on it as `r`; fails when it is false.
expect_json() {
  node -e 'const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    if (!eval(process.argv[2])) { console.error(JSON.stringify(r, null, 1)); process.exit(1); }' "$1" "$2" ||
    fail "$3"
}

# Bundles made from the first one for the upgrade and refusal steps: copy_of NAME unpacks it afresh into
# SCRATCH/NAME to be changed, pack NAME makes SCRATCH/NAME.tar.gz of it.
copy_of() { rm -rf "${SCRATCH:?}/$1" && mkdir "$SCRATCH/$1" && cp -a "$unpacked"/* "$SCRATCH/$1/"; }
pack() { tar -C "$SCRATCH/$1" -czf "$SCRATCH/$1.tar.gz" .; }

step "bundle"
BUNDLE=$(bash "$REPO/scripts/bundle.sh" --out "$OUT" | tail -n 1)
unpacked=$(mktemp -d "$SCRATCH/unpacked.XXXXXX")
tar -xzf "$BUNDLE" -C "$unpacked"
echo "bundle $(basename "$BUNDLE"): $(du -h "$BUNDLE" | cut -f1) packed, $(du -sh "$unpacked" | cut -f1) unpacked"
ort=$(find "$unpacked" -path '*onnxruntime-node/bin/*' -name onnxruntime_binding.node)
[ "$(echo "$ort" | wc -l)" = 1 ] || fail "the bundle holds more than one onnxruntime binding: $ort"
[ ! -d "$unpacked"/*/node_modules/vitest ] || fail "the bundle holds development dependencies (vitest)"

step "install into $P"
bash "$REPO/scripts/install.sh" --bundle "$BUNDLE" --prefix "$P"
CW=$P/usr/local/bin/cellwatch
"$CW" --version
[ -f "$P/etc/cellwatch/cellwatch.yaml" ] || fail "no example configuration installed"
unit=$P/etc/systemd/system/cellwatch.service
grep -q "^ExecStart=$P/opt/cellwatch/current/bin/cellwatch run --config $P/etc/cellwatch/cellwatch.yaml$" "$unit" ||
  fail "the unit's ExecStart does not point into the prefix"

step "unit: systemd-analyze verify and security"
systemd-analyze verify "$unit" || fail "systemd-analyze verify"
systemd-analyze security --offline=yes --root="$P" --threshold=20 cellwatch.service > "$SCRATCH/security.txt" ||
  { cat "$SCRATCH/security.txt"; fail "exposure above 2.0"; }
grep -E '✗|Overall' "$SCRATCH/security.txt"

step "doctor on the example configuration (must fail: its secrets and broker do not exist here)"
set +e
"$CW" doctor --config "$P/etc/cellwatch/cellwatch.yaml" --json > "$SCRATCH/doctor-example.json"
rc=$?
set -e
[ "$rc" != 0 ] || fail "doctor passed the example configuration"
expect_json "$SCRATCH/doctor-example.json" 'r.checks.find((c) => c.name === "config").status === "fail"' \
  "doctor did not fail the example configuration's config check"
# What the package itself provides must be right: the example's model path points into the release.
expect_json "$SCRATCH/doctor-example.json" 'r.checks.find((c) => c.name === "models").status !== "fail"' \
  "the example configuration's models do not load from the installed release"
echo "doctor exit $rc, config check failed as expected"

step "a working configuration; the agent runs once; doctor"
mkdir -p "$P/var/lib/cellwatch/input"
cat > "$P/etc/cellwatch/cellwatch.yaml" <<YAML
site: CI-SITE
pipelines:
  - name: cells
    source: {type: file, path: $P/var/lib/cellwatch/input, mode: directory}
    entity: {columns: [site, sector]}
    model: $P/opt/cellwatch/current/models/cell-context.onnx
    intervalS: 3600
  - name: host
    source: {type: system}
    entity: {columns: [host]}
    features: [cpu_load_pct, mem_used_pct, load_avg_1m]
    model: auto
    intervalS: 5
storage: {path: $P/var/lib/cellwatch/cellwatch.db}
mqtt: {url: $BROKER}
YAML
config_sum=$(sha256sum < "$P/etc/cellwatch/cellwatch.yaml")
"$CW" run --config "$P/etc/cellwatch/cellwatch.yaml" --check
"$CW" run --config "$P/etc/cellwatch/cellwatch.yaml" > "$SCRATCH/run.log" &
pid=$!
for _ in $(seq 1 120); do grep -q '"msg":"ready"' "$SCRATCH/run.log" && break; sleep 0.5; done
grep -q '"msg":"ready"' "$SCRATCH/run.log" || { kill $pid; cat "$SCRATCH/run.log"; fail "the agent never got ready"; }
kill -TERM $pid
wait $pid || fail "the agent did not stop cleanly"
"$CW" doctor --config "$P/etc/cellwatch/cellwatch.yaml"
"$CW" doctor --config "$P/etc/cellwatch/cellwatch.yaml" --login --json > "$SCRATCH/doctor.json" || fail "doctor failed"
expect_json "$SCRATCH/doctor.json" \
  '["config", "database", "models", "broker", "clock", "disk"].every((n) => r.checks.some((c) => c.name === n))' \
  "doctor did not report every check"
expect_json "$SCRATCH/doctor.json" 'r.checks.every((c) => c.status !== "fail")' "a doctor check failed"
expect_json "$SCRATCH/doctor.json" 'r.checks.find((c) => c.name === "broker").detail.startsWith("connected to")' \
  "doctor --login did not log in to the broker"
db_sum=$(sha256sum < "$P/var/lib/cellwatch/cellwatch.db")

step "upgrade to a second release, then roll back"
first=$(readlink "$P/opt/cellwatch/current")
copy_of second
sed -i 's/^commit=.*/&-next/' "$SCRATCH"/second/*/BUILD-INFO
pack second
bash "$REPO/scripts/install.sh" --bundle "$SCRATCH/second.tar.gz" --prefix "$P"
second=$(readlink "$P/opt/cellwatch/current")
[ "$second" != "$first" ] || fail "the upgrade did not switch releases"
[ "$(readlink "$P/opt/cellwatch/previous")" = "$first" ] || fail "previous is not the first release"
[ "$(sha256sum < "$P/etc/cellwatch/cellwatch.yaml")" = "$config_sum" ] || fail "the upgrade changed the configuration"
[ "$(sha256sum < "$P/var/lib/cellwatch/cellwatch.db")" = "$db_sum" ] || fail "the upgrade changed the buffer"
"$CW" doctor --config "$P/etc/cellwatch/cellwatch.yaml" > /dev/null || fail "doctor failed after the upgrade"
bash "$REPO/scripts/install.sh" --rollback --prefix "$P"
[ "$(readlink "$P/opt/cellwatch/current")" = "$first" ] || fail "rollback did not restore the first release"
[ "$(readlink "$P/opt/cellwatch/previous")" = "$second" ] || fail "rollback did not keep the second as previous"
"$CW" --version > /dev/null

step "refused without a change: a release whose compiled module does not load, a rebuild under a used name"
# Bundles made from the first one: better-sqlite3's binding damaged (as a wrong platform or Node ABI would be),
# and a file changed under the first release's own name.
copy_of broken
sed -i 's/^commit=.*/&-broken/' "$SCRATCH"/broken/*/BUILD-INFO
echo damaged > "$(find "$SCRATCH/broken" -name better_sqlite3.node | head -n 1)"
pack broken
copy_of rebuilt
echo "# rebuilt" >> "$SCRATCH"/rebuilt/*/deploy/cellwatch.example.yaml
pack rebuilt
for name in broken rebuilt; do
  if bash "$REPO/scripts/install.sh" --bundle "$SCRATCH/$name.tar.gz" --prefix "$P" 2> "$SCRATCH/$name.err"; then
    fail "install.sh took the $name release"
  fi
  cat "$SCRATCH/$name.err"
  [ "$(readlink "$P/opt/cellwatch/current")" = "$first" ] || fail "the $name release changed current"
done
grep -q 'NATIVE_MODULE' "$SCRATCH/broken.err" || fail "the damaged module was not named NATIVE_MODULE"
grep -q 'installed already with other files' "$SCRATCH/rebuilt.err" || fail "the rebuild was not refused by name"
[ -z "$(find "$P/opt/cellwatch/releases" -maxdepth 1 -name '*.new')" ] || fail "a refused release left files behind"

step "uninstall (configuration and state kept), then purge"
bash "$REPO/scripts/uninstall.sh" --prefix "$P"
[ ! -e "$P/opt/cellwatch" ] && [ ! -e "$unit" ] && [ ! -e "$CW" ] || fail "uninstall left the release or unit"
[ -f "$P/etc/cellwatch/cellwatch.yaml" ] && [ -f "$P/var/lib/cellwatch/cellwatch.db" ] ||
  fail "uninstall removed configuration or state"
bash "$REPO/scripts/uninstall.sh" --prefix "$P" --purge
[ ! -e "$P/etc/cellwatch" ] && [ ! -e "$P/var/lib/cellwatch" ] || fail "purge left configuration or state"
echo
echo "install check passed: bundle $(du -h "$BUNDLE" | cut -f1), exposure $(sed -n 's/.*exposure level for .*: //p' \
  "$SCRATCH/security.txt")"
