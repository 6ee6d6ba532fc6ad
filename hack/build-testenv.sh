#!/usr/bin/env bash
# Builds the pinned control-plane binaries that the tests and the demo run
# (kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd) from
# Go modules into a cache directory outside the repository. Skips the build
# when the binaries are already there.
#
#   hack/build-testenv.sh [DIR]     DIR defaults to $SPARKCD_TESTENV_DIR or
#                                   ~/.cache/sparkcd/testenv/<version>
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.36.3}
STAGING_VERSION=${STAGING_VERSION:-v0.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.8}
DIR=${1:-${SPARKCD_TESTENV_DIR:-${HOME}/.cache/sparkcd/testenv/${KUBE_VERSION}-etcd${ETCD_VERSION}}}
KUBE_BINS=(kube-apiserver kube-controller-manager kube-scheduler kubectl)

missing=()
for b in "${KUBE_BINS[@]}" etcd; do
  [[ -x "${DIR}/${b}" ]] || missing+=("$b")
done
if [[ ${#missing[@]} -eq 0 ]]; then
  echo "testenv: binaries present in ${DIR}"
  exit 0
fi

echo "testenv: building ${missing[*]} into ${DIR} (k8s ${KUBE_VERSION}, etcd ${ETCD_VERSION}); about 10 minutes the first time"
mkdir -p "${DIR}"
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
export GOFLAGS=-mod=mod GOTOOLCHAIN=local CGO_ENABLED=0

need_kube=0
for b in "${KUBE_BINS[@]}"; do [[ -x "${DIR}/${b}" ]] || need_kube=1; done
if [[ ${need_kube} -eq 1 ]]; then
  mkdir -p "${work}/kube"
  cd "${work}/kube"
  go mod init sparkcd.local/testenv-kube >/dev/null 2>&1
  go mod edit -require="k8s.io/kubernetes@${KUBE_VERSION}"
  # k8s.io/kubernetes points every staging module at ./staging; outside its
  # own tree each must be replaced by the published module of the same release.
  modfile=$(go mod download -json "k8s.io/kubernetes@${KUBE_VERSION}" | sed -n 's/.*"GoMod": "\(.*\)".*/\1/p')
  for m in $(sed -n 's#^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*#\1#p' "${modfile}"); do
    go mod edit -replace="${m}=${m}@${STAGING_VERSION}"
  done
  cat > tools.go <<'GO'
//go:build tools

package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
GO
  echo "testenv: resolving k8s.io/kubernetes ${KUBE_VERSION} dependencies"
  go mod tidy -e >/dev/null 2>&1 || true
  for b in "${KUBE_BINS[@]}"; do
    [[ -x "${DIR}/${b}" ]] && continue
    echo "testenv: building ${b}"
    go build -trimpath -ldflags="-s -w" -o "${DIR}/${b}.tmp" "k8s.io/kubernetes/cmd/${b}"
    mv "${DIR}/${b}.tmp" "${DIR}/${b}"
  done
fi

if [[ ! -x "${DIR}/etcd" ]]; then
  mkdir -p "${work}/etcd"
  cd "${work}/etcd"
  go mod init sparkcd.local/testenv-etcd >/dev/null 2>&1
  cat > main.go <<'GO'
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
GO
  go mod edit -require="go.etcd.io/etcd/server/v3@${ETCD_VERSION}"
  go mod tidy >/dev/null
  echo "testenv: building etcd"
  go build -trimpath -ldflags="-s -w" -o "${DIR}/etcd.tmp" .
  mv "${DIR}/etcd.tmp" "${DIR}/etcd"
fi
echo "testenv: ready in ${DIR}"
