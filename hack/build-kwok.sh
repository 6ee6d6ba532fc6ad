#!/usr/bin/env bash
# Builds kwok (Kubernetes WithOut Kubelet) from its Go module into the same
# cache directory as the control-plane binaries (hack/build-testenv.sh), for
# the demo: kwok fakes nodes and moves scheduled pods through their phases
# by the Stage manifests in deploy/demo/kwok. Skips the build when kwok is
# already there. kube-scheduler, which kwok relies on to bind pods to its
# fake nodes, is built by hack/build-testenv.sh.
#
#   hack/build-kwok.sh [DIR]     DIR defaults to $SPARKCD_TESTENV_DIR or
#                                ~/.cache/sparkcd/testenv/<version>
set -euo pipefail

KUBE_VERSION=${KUBE_VERSION:-v1.36.3}
ETCD_VERSION=${ETCD_VERSION:-v3.6.8}
# v0.8.0's go.mod asks for go 1.26.0, which the pinned toolchain satisfies.
KWOK_VERSION=${KWOK_VERSION:-v0.8.0}
DIR=${1:-${SPARKCD_TESTENV_DIR:-${HOME}/.cache/sparkcd/testenv/${KUBE_VERSION}-etcd${ETCD_VERSION}}}

if [[ -x "${DIR}/kwok" ]]; then
  echo "kwok: present in ${DIR}"
  exit 0
fi

echo "kwok: building kwok ${KWOK_VERSION} into ${DIR}; a few minutes the first time"
mkdir -p "${DIR}"
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
export GOTOOLCHAIN=local CGO_ENABLED=0
# kwok's go.mod has no replace directives, so `go install MOD@VERSION`
# builds it with exactly the dependencies its release pinned. GOBIN keeps
# the binary out of the user's GOPATH until it is complete.
GOBIN="${work}" go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kwok/cmd/kwok@${KWOK_VERSION}"
mv "${work}/kwok" "${DIR}/kwok.tmp"
mv "${DIR}/kwok.tmp" "${DIR}/kwok"
echo "kwok: ready in ${DIR}"
