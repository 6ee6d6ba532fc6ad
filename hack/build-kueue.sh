#!/usr/bin/env bash
# Builds Kueue's controller manager from its Go module, and copies the
# CustomResourceDefinitions and webhook configurations of the same release,
# into a cache directory of its own beside the control plane's
# (hack/build-testenv.sh), for the tests that queue runs with Kueue
# (internal/testenv.WithKueue). Skips what is already there.
#
#   hack/build-kueue.sh [DIR]     DIR defaults to $SPARKCD_KUEUE_DIR or
#                                 ~/.cache/sparkcd/kueue/<version>
set -euo pipefail

# v0.17.0's go.mod asks for go 1.25.0, which the pinned toolchain satisfies.
KUEUE_VERSION=${KUEUE_VERSION:-v0.17.0}
DIR=${1:-${SPARKCD_KUEUE_DIR:-${HOME}/.cache/sparkcd/kueue/${KUEUE_VERSION}}}
export GOTOOLCHAIN=local CGO_ENABLED=0

mkdir -p "${DIR}"
if [[ ! -f "${DIR}/crd/kueue.x-k8s.io_workloads.yaml" || ! -f "${DIR}/webhook/manifests.yaml" ]]; then
  src=$(go mod download -json "sigs.k8s.io/kueue@${KUEUE_VERSION}" | sed -n 's/.*"Dir": "\(.*\)".*/\1/p')
  mkdir -p "${DIR}/crd" "${DIR}/webhook"
  cp "${src}"/config/components/crd/bases/*.yaml "${DIR}/crd/"
  cp "${src}/config/components/webhook/manifests.yaml" "${DIR}/webhook/manifests.yaml"
  chmod -R u+w "${DIR}/crd" "${DIR}/webhook"
fi

if [[ -x "${DIR}/kueue" ]]; then
  echo "kueue: present in ${DIR}"
  exit 0
fi
echo "kueue: building kueue ${KUEUE_VERSION} into ${DIR}; about 6 minutes the first time"
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
# Kueue's go.mod has no replace directives, so `go install MOD@VERSION`
# builds it with exactly the dependencies its release pinned.
GOBIN="${work}" go install -trimpath -ldflags="-s -w" "sigs.k8s.io/kueue/cmd/kueue@${KUEUE_VERSION}"
mv "${work}/kueue" "${DIR}/kueue.tmp"
mv "${DIR}/kueue.tmp" "${DIR}/kueue"
echo "kueue: ready in ${DIR}"
