#!/usr/bin/env bash
# make demo: sparkcd's review workflow on the example jobs, end to end, on a
# fresh machine. It turns jobs/examples into a real git repository, renders
# and checks it against the example policies, commits a change the way a data
# engineer would, reviews that commit with `sparkcd diff`, and cleans up
# everything it created.
set -euo pipefail
cd "$(dirname "$0")/.."
SPARKCD=${SPARKCD:-$PWD/bin/sparkcd}
POLICIES=$PWD/policies/testdata/examples
work=$(mktemp -d)
trap 'rm -rf "${work}"' EXIT

step() { printf '\n\033[1;36m==> %s\033[0m\n' "$*"; }
git_() { git -C "${work}/jobs" -c user.name=demo -c user.email=demo@example.com "$@"; }

step "A jobs repository: jobs/examples as a git repository in ${work}/jobs"
cp -r jobs/examples "${work}/jobs"
git_ init -q -b main
git_ add -A
git_ commit -q -m "Add sirene-count, spark-pi and nightly-etl"
git_ log --oneline

step "sparkcd render overlays/prod --job sirene-count: the objects a production run creates"
(cd "${work}/jobs" && "${SPARKCD}" render overlays/prod --job sirene-count --policies "${POLICIES}") | sed -n '/^kind: Pod$/,$p' | head -60
echo "…"

step "sparkcd check overlays/prod --policies: the production jobs meet the platform's policies"
(cd "${work}/jobs" && "${SPARKCD}" check overlays/prod --policies "${POLICIES}")

step "sparkcd check overlays/dev --policies: development jobs, audited"
(cd "${work}/jobs" && "${SPARKCD}" check overlays/dev --policies "${POLICIES}") || true

step "A data engineer raises sirene-count to 200 executors and commits"
sed -i 's/maxExecutors: 60/maxExecutors: 200/' "${work}/jobs/base/sirene-count/job.yaml"
git_ commit -q -am "sirene-count: up to 200 executors"
git_ log --oneline

step "sparkcd diff --from HEAD~1 --to HEAD overlays/prod: the review CI posts on the pull request"
set +e
(cd "${work}/jobs" && "${SPARKCD}" diff --from HEAD~1 --to HEAD overlays/prod --policies "${POLICIES}")
code=$?
set -e
echo "exit code ${code} (1: the commit introduces a policy error, the pull request is blocked)"

step "Summary"
echo "rendered and checked 3 jobs in 2 overlays, reviewed 1 commit; removed ${work}"
