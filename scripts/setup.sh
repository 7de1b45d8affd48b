#!/usr/bin/env bash
# Installs what mtlsgate's tests use: npm dependencies (from the lock file), the curl/openssl clients, nginx
# for the doctor's interop test (a peer server with ssl_verify_client on; the test skips visibly without it),
# python3-cryptography-vectors, the fuzz tests' seed corpus (test/fuzz; its tests skip visibly without it), tini,
# the image's PID 1, which deploy/check-image-steps.sh runs the gateway under as deploy/Dockerfile does,
# prometheus for its promtool, which lints /metrics and unit-tests the alerts of docs/metrics.md (where systemd
# runs, the package also starts a Prometheus server on :9090; `systemctl disable --now prometheus` stops it), and
# Debian's chromium, the headless browser the dashboard test drives with playwright-core (that test fails without it).
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
command -v openssl >/dev/null || need+=(openssl)
command -v curl >/dev/null || need+=(curl)
command -v tini >/dev/null || need+=(tini)
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || need+=(nginx-light)
[ -d /usr/lib/python3/dist-packages/cryptography_vectors ] || need+=(python3-cryptography-vectors)
command -v promtool >/dev/null || need+=(prometheus)
[ -x /usr/bin/chromium ] || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    # Not fatal: without nginx its test skips visibly; without curl/openssl/chromium the end-to-end tests say what
    # is missing.
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}"; } ||
      echo "setup: apt-get could not install ${need[*]}" >&2
  else
    echo "setup: missing ${need[*]}; install them (apt-get install ${need[*]}) for the end-to-end tests" >&2
  fi
fi
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules ]; then
  npm ci --no-audit --no-fund
fi
# The Node the tests run on (docs/node-openssl.md); npm ci's prepare does it too, this covers a kept node_modules.
node scripts/node-runtime.mjs
npm run build --silent
