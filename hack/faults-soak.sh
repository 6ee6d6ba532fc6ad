#!/usr/bin/env bash
# Runs the fault suite (test/faults) N times, each with a seed of its own,
# and reports every seed whose run failed, so CI flakes show up before CI.
#
#   hack/faults-soak.sh N       seeds are SEED_BASE, SEED_BASE+1, …
#                               (SEED_BASE defaults to the time in ns);
#                               replay one with SPARKCD_FAULTS_SEED=<seed>;
#                               RUN=<regexp> limits the cases (go test -run)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:?usage: hack/faults-soak.sh N}
base=${SEED_BASE:-$(date +%s%N)}
export GOTOOLCHAIN=local

work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT
# One build of the suite for every run: each run then costs only the suite.
go test -race -c -o "${work}/faults.test" ./test/faults/
mkdir -p "${work}/logs"

failed=()
start=$(date +%s)
for ((i = 0; i < n; i++)); do
  seed=$((base + i))
  log="${work}/logs/${seed}.log"
  t0=$(date +%s)
  if (cd test/faults && SPARKCD_FAULTS_SEED=${seed} "${work}/faults.test" -test.count=1 -test.v -test.timeout 30m -test.run "${RUN:-.}") >"${log}" 2>&1; then
    echo "soak $((i + 1))/${n}: seed ${seed} ok ($(($(date +%s) - t0)) s) $(grep '^FIGURES case=total' "${log}" || true)"
  else
    failed+=("${seed}")
    echo "soak $((i + 1))/${n}: seed ${seed} FAILED ($(($(date +%s) - t0)) s); the failing cases:"
    # Each failure's lines: the test's own log lines above its '--- FAIL'.
    grep -v 'level=' "${log}" | grep -E -B12 -- '^\s*--- FAIL' | grep -E -- '--- FAIL|_test.go:[0-9]+:' | head -40 | sed 's/^/    /'
    cp "${log}" "faults-soak-${seed}.log"
    echo "    whole log: faults-soak-${seed}.log"
  fi
done
echo "soak: ${n} runs, $((n - ${#failed[@]})) passed, ${#failed[@]} failed, $(($(date +%s) - start)) s"
if ((${#failed[@]} > 0)); then
  echo "failing seeds (replay with SPARKCD_FAULTS_SEED=<seed> go test -race -count=1 ./test/faults/): ${failed[*]}"
  exit 1
fi
