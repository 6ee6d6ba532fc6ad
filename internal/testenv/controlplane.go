package testenv

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// startAttempts bounds the retries of a component whose port was taken
// between freePorts and its start.
const startAttempts = 3

// startEtcd starts a single-member etcd on loopback with fsync off: the
// data lives only as long as the test.
func (e *Env) startEtcd(ctx context.Context) (string, error) {
	var lastErr error
	for range startAttempts {
		ports, err := freePorts(2)
		if err != nil {
			return "", err
		}
		clientURL, peerURL := loopbackURL("http", ports[0]), loopbackURL("http", ports[1])
		args := []string{
			"--name=testenv",
			"--data-dir=" + filepath.Join(e.dir, "etcd"),
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=testenv=" + peerURL,
			"--unsafe-no-fsync=true",
			"--quota-backend-bytes=8589934592",
			"--log-level=warn",
		}
		p, err := startProcess("etcd", e.binary("etcd"), args, e.logPath("etcd"))
		if err != nil {
			return "", err
		}
		e.procs = append(e.procs, p)
		client := &http.Client{}
		lastErr = p.waitReady(ctx, func(ctx context.Context) error {
			return httpOK(ctx, client, clientURL+"/health")
		})
		if lastErr == nil {
			return clientURL, nil
		}
		_ = p.stop(time.Second)
		e.procs = e.procs[:len(e.procs)-1]
		_ = os.RemoveAll(filepath.Join(e.dir, "etcd"))
		if ctx.Err() != nil {
			break
		}
	}
	return "", lastErr
}

// startAPIServer starts kube-apiserver against etcdURL and returns an
// administrator's rest.Config once /readyz answers.
func (e *Env) startAPIServer(ctx context.Context, etcdURL string) (*rest.Config, error) {
	var lastErr error
	for range startAttempts {
		ports, err := freePorts(1)
		if err != nil {
			return nil, err
		}
		port := ports[0]
		args := []string{
			"--etcd-servers=" + etcdURL,
			"--bind-address=127.0.0.1",
			"--advertise-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(port),
			"--cert-dir=" + filepath.Join(e.dir, "apiserver"),
			"--tls-cert-file=" + e.pki.servingCert,
			"--tls-private-key-file=" + e.pki.servingKey,
			"--client-ca-file=" + e.pki.caCert,
			"--service-account-issuer=https://kubernetes.default.svc",
			"--service-account-key-file=" + e.pki.saPub,
			"--service-account-signing-key-file=" + e.pki.saKey,
			"--service-cluster-ip-range=10.0.0.0/24",
			"--authorization-mode=RBAC",
			"--allow-privileged=true",
			// The ServiceAccount plugin would reject pods whose service
			// account no controller has created and add a token volume with
			// a random name; tests compare pods with what was sent.
			"--disable-admission-plugins=ServiceAccount",
			// Nothing needs the kubernetes service's endpoints, and keeping
			// them costs a write every few seconds.
			"--endpoint-reconciler-type=none",
			"--profiling=false",
		}
		p, err := startProcess("kube-apiserver", e.binary("kube-apiserver"), args, e.logPath("kube-apiserver"))
		if err != nil {
			return nil, err
		}
		e.procs = append(e.procs, p)
		cfg := &rest.Config{
			Host: loopbackURL("https", port),
			TLSClientConfig: rest.TLSClientConfig{
				CAData:   e.pki.caPEM,
				CertData: e.pki.adminPEM,
				KeyData:  e.pki.adminKeyPEM,
			},
			// A test control plane serves one client; the client-side rate
			// limit would only slow the tests down.
			QPS:   1000,
			Burst: 2000,
		}
		client, err := rest.HTTPClientFor(cfg)
		if err != nil {
			return nil, fmt.Errorf("unable to build an HTTP client for the apiserver: %w", err)
		}
		lastErr = p.waitReady(ctx, func(ctx context.Context) error {
			return httpOK(ctx, client, cfg.Host+"/readyz")
		})
		client.CloseIdleConnections()
		if lastErr == nil {
			return cfg, nil
		}
		_ = p.stop(time.Second)
		e.procs = e.procs[:len(e.procs)-1]
		if ctx.Err() != nil {
			break
		}
	}
	return nil, lastErr
}

// startControllerManager starts kube-controller-manager with only the
// garbage collector and the namespace controller (or the controllers of
// WithControllers), as the administrator,
// without leader election, and waits for its /healthz.
func (e *Env) startControllerManager(ctx context.Context) error {
	controllers := "garbagecollector,namespace"
	if len(e.opts.controllers) > 0 {
		controllers = strings.Join(e.opts.controllers, ",")
	}
	var lastErr error
	for range startAttempts {
		ports, err := freePorts(1)
		if err != nil {
			return err
		}
		args := []string{
			"--kubeconfig=" + e.Kubeconfig,
			"--controllers=" + controllers,
			"--leader-elect=false",
			"--use-service-account-credentials=false",
			"--bind-address=127.0.0.1",
			"--secure-port=" + strconv.Itoa(ports[0]),
			"--cert-dir=" + filepath.Join(e.dir, "kube-controller-manager"),
			// Health checks need neither: /healthz is always allowed, and
			// no other request reaches this port.
			"--authentication-skip-lookup=true",
			"--kube-api-qps=200",
			"--kube-api-burst=400",
		}
		p, err := startProcess("kube-controller-manager", e.binary("kube-controller-manager"), args, e.logPath("kube-controller-manager"))
		if err != nil {
			return err
		}
		e.procs = append(e.procs, p)
		client := &http.Client{Transport: &http.Transport{
			// The serving certificate is self-signed at start; only
			// liveness is checked here, nothing is sent.
			TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec
		}}
		healthz := loopbackURL("https", ports[0]) + "/healthz"
		lastErr = p.waitReady(ctx, func(ctx context.Context) error {
			return httpOK(ctx, client, healthz)
		})
		client.CloseIdleConnections()
		if lastErr == nil {
			return nil
		}
		_ = p.stop(time.Second)
		e.procs = e.procs[:len(e.procs)-1]
		if ctx.Err() != nil {
			break
		}
	}
	return lastErr
}

// writeKubeconfig writes the administrator's credentials as a kubeconfig,
// for kube-controller-manager and kubectl.
func (e *Env) writeKubeconfig(cfg *rest.Config) error {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["testenv"] = &clientcmdapi.Cluster{
		Server:                   cfg.Host,
		CertificateAuthorityData: cfg.CAData,
	}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{
		ClientCertificateData: cfg.CertData,
		ClientKeyData:         cfg.KeyData,
	}
	kc.Contexts["testenv"] = &clientcmdapi.Context{Cluster: "testenv", AuthInfo: "admin"}
	kc.CurrentContext = "testenv"
	e.Kubeconfig = filepath.Join(e.dir, "admin.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, e.Kubeconfig); err != nil {
		return fmt.Errorf("unable to write '%s': %w", e.Kubeconfig, err)
	}
	return nil
}

func httpOK(ctx context.Context, client *http.Client, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("'%s' answered %s", url, resp.Status)
	}
	return nil
}
