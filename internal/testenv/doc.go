// Package testenv starts a real Kubernetes control plane for tests and demos:
// etcd and kube-apiserver, and optionally kube-controller-manager running the
// garbage collector and the namespace controller, so ownerReference cascades
// really happen.
//
// The binaries come from the cache directory that hack/build-testenv.sh fills
// (`make testenv`): $SPARKCD_TESTENV_DIR, by default
// ~/.cache/sparkcd/testenv/<version>. A test that needs them fails, never
// skips, when they are missing, and says how to build them.
//
// The control plane trusts one client certificate, an administrator in
// system:masters, and installs sparkcd's CustomResourceDefinitions from
// deploy/crds before it is handed out. There is no kubelet and no scheduler:
// tests move pods through their phases by writing pod status as a kubelet
// would.
//
// One control plane per test package is the intended use, through Shared
// and TestMain, with a namespace per test (Env.Namespace). Every process is
// started in its own process group and, on Linux, is killed by the kernel if
// the test binary dies, so an interrupted `go test` leaves nothing behind.
package testenv
