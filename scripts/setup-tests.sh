#!/usr/bin/env bash
# What the tests need on this machine, done by `npm test` itself (scripts/run-tests.mjs runs this
# first) so that the README's test command works on a fresh machine:
#   - Debian packages: etcd and redis-server (real databases for the engine tests), chromium and
#     prometheus (promtool) for the browser and monitoring tests, libjemalloc2 (the operator
#     image's malloc, preloaded where a test runs the operator's program). Installed with
#     apt-get when running as root (as CI does); otherwise the missing ones are named and this
#     exits 2.
#   - with --controlplane: the Kubernetes control plane, etcd for it, kubectl and helm, built from
#     the Go module proxy into the cache (scripts/build-controlplane.sh; seconds once built).
# Both steps are quick when there is nothing to do. BATON_TEST_SETUP=0 skips everything.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "${BATON_TEST_SETUP:-1}" = "0" ] && exit 0

need=()
command -v etcd >/dev/null 2>&1 || need+=(etcd-server etcd-client)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server redis-tools)
# Debian's Chromium for the dashboard and report browser tests (playwright-core drives it; nothing
# downloads a browser) and promtool (package prometheus) for deploy/monitoring's alert rules.
[ -x /usr/bin/chromium ] || need+=(chromium)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# jemalloc: the operator image preloads it, and so do the tests and benchmarks that run its program.
dpkg-query -W -f='${Status}' libjemalloc2 2>/dev/null | grep -q 'ok installed' || need+=(libjemalloc2)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" != "0" ]; then
    echo "setup-tests: missing ${need[*]}; install them (as root: apt-get install -y ${need[*]}) and run again" >&2
    exit 2
  fi
  echo "setup-tests: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -q
  apt-get install -y -q --no-install-recommends "${need[@]}"
  # The packages start system services on install; the tests start their own processes.
  for svc in etcd redis-server prometheus; do
    if command -v systemctl >/dev/null 2>&1; then systemctl stop "$svc" >/dev/null 2>&1 || true; fi
  done
fi

if [ "${1:-}" = "--controlplane" ]; then
  scripts/build-controlplane.sh >&2
fi
