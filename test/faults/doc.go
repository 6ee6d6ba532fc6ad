// Package faults is sparkcd's fault suite: it injects the faults a GitOps
// controller meets in production and checks that sparkcd keeps its
// promises through them — at most one driver per run, every run complete
// with its dependents, no status lost, the last good revision kept while
// git misbehaves, drift restored and reported, and a cleanup that deletes
// each driver once and nothing outside its scope.
//
// Every case runs against real parts: the kube-apiserver, etcd and
// kube-controller-manager of internal/testenv, a real git server on
// loopback (internal/gittest), and `sparkcd serve` as a separate process
// built from cmd/sparkcd, so that SIGKILL means what it means in a
// cluster. The cases:
//
//   - TestAPIServerRestartMidApply: kube-apiserver killed and restarted,
//     etcd kept, while a JobSource of 100 jobs is being applied;
//   - TestEtcdRestartUnderLoad: etcd SIGKILLed twice (seeded points and
//     outages) while 40 jobs are applied and run, restarted on its data;
//   - TestSlowFlakyAPIServer: sparkcd behind a TCP proxy that adds 500 ms
//     to every request and cuts every connection every 3-10 s (seeded):
//     each run once, then no write in a quiet window;
//   - TestKilledDuringRuns: `sparkcd serve` SIGKILLed at random points
//     (seeded, the seed logged) during 50 runs, and restarted;
//   - TestLeaderFailoverDuringTicks: two replicas with leader election,
//     the leader SIGKILLed during a burst of schedule ticks;
//   - TestPausedLeader: the leader SIGSTOPped mid-wave for three times its
//     lease while commits land, then SIGCONTinued: the fence refuses its
//     writes before it notices it lost the Lease, and it exits;
//   - TestGitFaults: the git server down, slow past the fetch timeout,
//     serving a corrupt pack, and force-pushed to another history;
//   - TestGitCacheUnwritable: sparkcd's git cache refuses writes
//     (EACCES, sparkcd running as an unprivileged user), then heals;
//   - TestDriftCorrected: another writer edits a managed SparkJob;
//   - TestCleanupUnderThrottling: 429 Too Many Requests and 409 Conflict
//     injected into a cleanup's requests.
//
// Each case logs its figures in one line,
//
//	FIGURES case=<name> faults=<n> survived=<n> runs=<n> duplicates=<n> lost=<n>
//
// and TestMain prints the totals in the same form, for docs/reliability.md.
// SPARKCD_FAULTS_SEED fixes the seed of the random kill points and fault
// shares; by default it is the time, and every case logs the one it used.
package faults
