#!/usr/bin/env bash
# deploy/Dockerfile's steps, run on this machine without a container daemon:
#   build stage    a clean copy of what the Dockerfile copies; npm ci; npm run build; npm pack
#   runtime stage  npm install --global --omit=dev of the tarball into a prefix standing in for /usr/local
#   run            as uid/gid 65532 (when started as root; otherwise as the user running this), under tini when
#                  installed, `node .../mtlsgate/bin/mtlsgate.js serve` on certificates made by the packaged CLI;
#                  `mtlsgate health` until /readyz answers 200; one mutual-TLS request with curl; SIGTERM; exit 0
# Not run here: `docker build` itself, the node:24-slim base image and its apt-get, the HEALTHCHECK instruction.
#
# Usage: deploy/check-image-steps.sh [--keep-tarball DIR] [--reuse-node-modules]
#   --keep-tarball DIR     copy the packed tarball there
#   --reuse-node-modules   link the repository's node_modules (made by the same `npm ci`) instead of running npm ci
#                          in the copy: the test suite's way to save half a minute of installing and deleting
# Needs node >= 22 and npm on PATH, curl, openssl.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
keep=""
reuse=no
while [ $# -gt 0 ]; do
  case "$1" in
    --keep-tarball) keep=${2:?--keep-tarball needs a directory}; shift 2 ;;
    --reuse-node-modules) reuse=yes; shift ;;
    *) echo "check-image-steps: unknown argument $1" >&2; exit 2 ;;
  esac
done

work=$(mktemp -d)
chmod 755 "$work"
pid=""
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
step() { echo "check-image-steps: $* [${SECONDS}s]"; }
fail() {
  echo "check-image-steps: FAIL: $*" >&2
  exit 1
}

step "build stage: npm ci, npm run build, npm pack in a clean copy (npm ci: $([ $reuse = yes ] && echo "the repository's node_modules" || echo run))"
mkdir "$work/src" "$work/out"
cp -R "$repo/package.json" "$repo/package-lock.json" "$repo/tsconfig.json" "$repo/tsconfig.build.json" \
  "$repo/README.md" "$repo/bin" "$repo/src" "$work/src/"
(
  cd "$work/src"
  export MTLSGATE_SYSTEM_NODE=1
  if [ $reuse = yes ]; then
    ln -s "$repo/node_modules" node_modules
  else
    npm ci --ignore-scripts --prefer-offline --no-audit --no-fund --silent
  fi
  npm run build --silent
  npm pack --ignore-scripts --pack-destination "$work/out" --silent >/dev/null
)
tarball=$(ls "$work"/out/mtlsgate-*.tgz)
tar -tzf "$tarball" >"$work/files.txt"
step "packed $(basename "$tarball") ($(wc -l <"$work/files.txt") files)"
grep -q '^package/dist/cli/main.js$' "$work/files.txt" || fail "the tarball has no dist/cli/main.js"
if grep -qE '^package/(src|test|scripts)/' "$work/files.txt"; then fail "the tarball carries sources or tests"; fi
if [ -n "$keep" ]; then cp "$tarball" "$keep/"; fi

step "runtime stage: npm install --global --omit=dev (prefix $work/usr/local)"
prefix="$work/usr/local"
npm install --global --prefix "$prefix" --omit=dev --prefer-offline --no-audit --no-fund --silent "$tarball"
pkg="$prefix/lib/node_modules/mtlsgate"
[ -x "$prefix/bin/mtlsgate" ] || fail "no mtlsgate on the prefix's PATH"
[ ! -e "$pkg/node_modules/typescript" ] || fail "a devDependency (typescript) was installed"
[ ! -e "$pkg/.runtime" ] || fail "the package's prepare script ran at install"

node_bin=$(command -v node)
if [ "$(id -u)" = 0 ]; then
  as_user=(setpriv --reuid=65532 --regid=65532 --clear-groups --)
  mkdir -p "$work/etc"
  chown 65532:65532 "$work/etc"
  step "running as uid 65532 (setpriv), as the image's USER"
else
  as_user=()
  mkdir -p "$work/etc"
  step "not root: running as uid $(id -u), which is already not root"
fi
init=()
if command -v tini >/dev/null; then
  init=(tini --)
else
  step "tini is not installed: the gateway runs without the image's PID 1"
fi
mtlsgate() { "${as_user[@]}" "$node_bin" "$pkg/bin/mtlsgate.js" "$@"; }

step "certificates made by the packaged CLI: mtlsgate pki init"
mtlsgate pki init "$work/etc/pki" --domain mtls.example.test >/dev/null
read -r port admin < <("$node_bin" -e '
  const net = require("node:net");
  const free = () => new Promise((r) => { const s = net.createServer().listen(0, "127.0.0.1", () => {
    const p = s.address().port; s.close(() => r(p)); }); });
  Promise.all([free(), free()]).then((p) => console.log(p.join(" ")));')
cat >"$work/etc/config.yaml" <<YAML
listen: { host: 127.0.0.1, port: $port }
admin: { host: 127.0.0.1, port: $admin }
domains:
  - domainName: mtls.example.test
    certificate: { cert: $work/etc/pki/server.crt, key: $work/etc/pki/server.key }
    mutualTls: { truststoreUri: file://$work/etc/pki/truststore.pem }
    # The admin listener stands in for a backend: GET /healthz through the gateway answers its 200.
    basePathMappings: [{ target: "http://127.0.0.1:$admin" }]
shutdown: { drainDelayMs: 500 }
watch: { enabled: true }
YAML

step "serve: ${init[*]:+${init[*]} }node .../mtlsgate/bin/mtlsgate.js serve --workers 1"
# A simple command (no function, no subshell), so $! is the process setpriv and tini exec into, as PID 1 would be.
"${as_user[@]}" "${init[@]}" "$node_bin" "$pkg/bin/mtlsgate.js" serve --config "$work/etc/config.yaml" --workers 1 \
  >"$work/serve.log" 2>&1 &
pid=$!
for _ in $(seq 1 100); do
  if mtlsgate health --url "http://127.0.0.1:$admin/readyz" --timeout-ms 1000 >"$work/health.out" 2>&1; then break; fi
  kill -0 "$pid" 2>/dev/null || fail "the gateway exited: $(cat "$work/serve.log")"
  sleep 0.2
done
grep -q ": 200$" "$work/health.out" || fail "/readyz never answered 200: $(cat "$work/health.out")"
step "health: $(cat "$work/health.out")"
gateway=$(pgrep -u 65532 -f "mtlsgate.js serve --config $work/etc/config.yaml" | head -1 || true)
if [ "$(id -u)" = 0 ]; then
  [ -n "$gateway" ] || fail "no gateway process runs as uid 65532"
  step "the gateway runs as uid $(ps -o uid= -p "$gateway" | tr -d ' ')"
fi

status=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 \
  --resolve "mtls.example.test:$port:127.0.0.1" --cacert "$work/etc/pki/root-ca.crt" \
  --cert "$work/etc/pki/client.crt" --key "$work/etc/pki/client.key" "https://mtls.example.test:$port/healthz")
[ "$status" = 200 ] || fail "a mutual-TLS request got $status: $(tail -5 "$work/serve.log")"
step "curl with the client certificate: HTTP $status"

kill -TERM "$pid"
code=0
wait "$pid" || code=$?
pid=""
[ "$code" = 0 ] || fail "exit $code after SIGTERM: $(tail -5 "$work/serve.log")"
grep -q '"msg":"stopped"' "$work/serve.log" || fail "no 'stopped' log line"
step "SIGTERM: drained and exited 0"
step "ok (not run here: docker build, the node:24-slim base image, the HEALTHCHECK instruction)"
