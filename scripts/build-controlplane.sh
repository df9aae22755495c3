#!/usr/bin/env bash
# Builds the real programs Baton's Kubernetes tests run against -- kube-apiserver,
# kube-controller-manager, kube-scheduler and kubectl (k8s.io/kubernetes), etcd
# (go.etcd.io/etcd/server/v3) and helm (helm.sh/helm/v4) -- from the Go module proxy, with the versions pinned by the Go
# modules under test/controlplane/, into a cache outside the checkout:
#
#   ${BATON_CONTROLPLANE_CACHE:-~/.cache/baton/controlplane}/<program>-<version>/<program>
#
# A program whose module files (go.mod + go.sum) have not changed since it was built is skipped,
# so a second run takes a second or two. Prints what it built or skipped and how long it took;
# the last three lines are the directories test/kube/binaries.ts reads. Concurrent runs (several
# checkouts sharing one cache) wait for each other.
#
# Usage: scripts/build-controlplane.sh [--print-dirs]
#   --print-dirs  only print the three directories (nothing is built)
set -euo pipefail
cd "$(dirname "$0")/.."
root="$PWD/test/controlplane"
cache="${BATON_CONTROLPLANE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/baton/controlplane}"

if ! command -v go >/dev/null 2>&1; then
  echo "build-controlplane: 'go' is not on PATH; install Go >= 1.26 (https://go.dev/dl/) and run again" >&2
  exit 2
fi

# The version a module's go.mod requires for `mod` (the tool's own module).
required() { # <go.mod> <module path>
  local v
  v=$(awk -v m="$2" '$1 == m { print $2; exit } $1 == "require" && $2 == m { print $3; exit }' "$1")
  if [ -z "$v" ]; then
    echo "build-controlplane: $1 does not require $2" >&2
    exit 2
  fi
  echo "$v"
}

k8s_version=$(required "$root/go.mod" k8s.io/kubernetes)
etcd_version=$(required "$root/etcd/go.mod" go.etcd.io/etcd/server/v3)
helm_version=$(required "$root/helm/go.mod" helm.sh/helm/v4)
k8s_dir="$cache/kubernetes-$k8s_version"
etcd_dir="$cache/etcd-$etcd_version"
helm_dir="$cache/helm-$helm_version"

if [ "${1:-}" = "--print-dirs" ]; then
  printf '%s\n' "$k8s_dir" "$etcd_dir" "$helm_dir"
  exit 0
fi

mkdir -p "$cache"
# One build at a time per cache: another checkout may be building the same programs.
exec 9>"$cache/.lock"
if ! flock -n 9; then
  echo "build-controlplane: another build holds $cache/.lock; waiting"
  flock 9
fi

export CGO_ENABLED=0 GOFLAGS="${GOFLAGS:-} -trimpath -mod=readonly"
started=$(date +%s)

# build <module dir> <out dir> <ldflags> <name>=<package>...: builds into out dir unless its stamp
# (a hash of go.mod + go.sum) is current; binaries appear only once all of them linked.
build() {
  local mod="$1" out="$2" ldflags="$3"
  shift 3
  local stamp
  stamp=$(cat "$mod/go.mod" "$mod/go.sum" | sha256sum | cut -d' ' -f1)
  local names=() pkgs=()
  for p in "$@"; do
    names+=("${p%%=*}")
    pkgs+=("${p#*=}")
  done
  if [ -f "$out/.stamp" ] && [ "$(cat "$out/.stamp")" = "$stamp" ]; then
    local ok=1
    for n in "${names[@]}"; do [ -x "$out/$n" ] || ok=0; done
    if [ $ok = 1 ]; then
      echo "build-controlplane: ${names[*]}: up to date in $out"
      return
    fi
  fi
  local t0 tmp
  t0=$(date +%s)
  tmp=$(mktemp -d "$cache/.build.XXXXXX")
  echo "build-controlplane: building ${names[*]} into $out (the first build takes minutes)"
  local i attempt
  for i in "${!names[@]}"; do
    # The module downloads can time out on a busy link (a TLS handshake timeout from the proxy was
    # seen here): a failed build is tried twice more; what was downloaded stays in the module cache.
    for attempt in 1 2 3; do
      if (cd "$mod" && go build -ldflags "$ldflags" -o "$tmp/${names[$i]}" "${pkgs[$i]}"); then
        break
      fi
      if [ "$attempt" = 3 ]; then
        rm -rf "$tmp"
        echo "build-controlplane: go build of ${pkgs[$i]} in $mod failed 3 times (see above; GOPROXY=$(go env GOPROXY))" >&2
        exit 1
      fi
      echo "build-controlplane: go build of ${pkgs[$i]} failed (attempt $attempt of 3); trying again in 10 s" >&2
      sleep 10
    done
  done
  mkdir -p "$out"
  for n in "${names[@]}"; do mv -f "$tmp/$n" "$out/$n"; done
  rm -rf "$tmp"
  echo "$stamp" >"$out/.stamp"
  echo "build-controlplane: built ${names[*]} in $(($(date +%s) - t0)) s"
}

# Version stamps as the Kubernetes release build sets them (hack/lib/version.sh), so /version and
# kubectl report the pinned release instead of v0.0.0-master.
k8s_minor=${k8s_version#v1.}
k8s_minor=${k8s_minor%%.*}
k8s_ldflags="-s -w"
for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
  k8s_ldflags+=" -X $pkg.gitVersion=$k8s_version -X $pkg.gitMajor=1 -X $pkg.gitMinor=$k8s_minor"
  k8s_ldflags+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=1970-01-01T00:00:00Z"
done

build "$root" "$k8s_dir" "$k8s_ldflags" \
  kube-apiserver=k8s.io/kubernetes/cmd/kube-apiserver \
  kube-controller-manager=k8s.io/kubernetes/cmd/kube-controller-manager \
  kube-scheduler=k8s.io/kubernetes/cmd/kube-scheduler \
  kubectl=k8s.io/kubernetes/cmd/kubectl
build "$root/etcd" "$etcd_dir" "-s -w" etcd=go.etcd.io/etcd/server/v3
build "$root/helm" "$helm_dir" "-s -w -X helm.sh/helm/v4/internal/version.version=$helm_version" \
  helm=helm.sh/helm/v4/cmd/helm

echo "build-controlplane: done in $(($(date +%s) - started)) s"
printf '%s\n' "$k8s_dir" "$etcd_dir" "$helm_dir"
