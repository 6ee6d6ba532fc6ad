#!/usr/bin/env bash
# Builds the helm CLI from its Go module into a cache directory outside the
# repository, for the tests that lint and render deploy/chart
# (deploy/chart_test.go). helm is not a dependency of sparkcd's own module:
# `go install MOD@VERSION` builds it with exactly the dependencies its
# release pinned. Skips the build when helm is already there.
#
#   hack/build-helm.sh [DIR]     DIR defaults to $SPARKCD_HELM_DIR or
#                                ~/.cache/sparkcd/tools/helm-<version>
set -euo pipefail

# v4.3.2's go.mod asks for go 1.26.0, which the pinned toolchain satisfies,
# and has no replace directives.
HELM_VERSION=${HELM_VERSION:-v4.3.2}
DIR=${1:-${SPARKCD_HELM_DIR:-${HOME}/.cache/sparkcd/tools/helm-${HELM_VERSION}}}

if [[ -x "${DIR}/helm" ]]; then
  echo "helm: present in ${DIR}"
  exit 0
fi

echo "helm: building helm ${HELM_VERSION} into ${DIR}; a few minutes the first time"
mkdir -p "${DIR}"
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
export GOTOOLCHAIN=local CGO_ENABLED=0
# GOBIN keeps a half-built binary out of DIR: the test takes a helm that is
# there as complete.
GOBIN="${work}" go install -trimpath -ldflags="-s -w" "helm.sh/helm/v4/cmd/helm@${HELM_VERSION}"
mv "${work}/helm" "${DIR}/helm.tmp"
mv "${DIR}/helm.tmp" "${DIR}/helm"
echo "helm: ready in ${DIR}"
