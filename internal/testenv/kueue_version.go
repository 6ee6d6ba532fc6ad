package testenv

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"

	"k8s.io/apimachinery/pkg/version"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// Kueue refuses to start unless the API server's /version parses as a
// semantic version, and hack/build-testenv.sh builds kube-apiserver from
// its module without the release's version stamp (its gitVersion reads
// "v0.0.0-master+$Format:%H$"). Kueue therefore talks to the API server
// through a loopback reverse proxy that passes every request through as
// the administrator — watches included — and answers GET /version with
// the API server's own answer, its gitVersion set to the release the
// binary was built from (DefaultVersion's). Nothing else changes.

// startVersionProxy starts the proxy and writes a kubeconfig for it,
// returning the kubeconfig's path.
func (e *Env) startVersionProxy() (string, error) {
	target, err := url.Parse(e.Config.Host)
	if err != nil {
		return "", fmt.Errorf("unable to parse the API server's URL: %w", err)
	}
	rt, err := rest.TransportFor(e.Config)
	if err != nil {
		return "", fmt.Errorf("unable to build the proxy's transport: %w", err)
	}
	proxy := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     rt,
		FlushInterval: -1,
	}
	mux := http.NewServeMux()
	mux.Handle("/", proxy)
	mux.HandleFunc("GET /version", func(w http.ResponseWriter, r *http.Request) {
		serveVersion(w, r, rt, target)
	})
	cert, err := tls.LoadX509KeyPair(e.pki.servingCert, e.pki.servingKey)
	if err != nil {
		return "", fmt.Errorf("unable to load the proxy's certificate: %w", err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	if err != nil {
		return "", fmt.Errorf("unable to listen for Kueue's proxy: %w", err)
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: startTimeout}
	go func() { _ = srv.Serve(ln) }()
	e.stops = append(e.stops, func() error {
		if err := srv.Close(); err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("unable to stop Kueue's proxy: %w", err)
		}
		return nil
	})
	return e.writeProxyKubeconfig("https://" + ln.Addr().(*net.TCPAddr).String())
}

// serveVersion answers /version as the API server does, with the
// release's gitVersion.
func serveVersion(w http.ResponseWriter, r *http.Request, rt http.RoundTripper, target *url.URL) {
	req, err := http.NewRequestWithContext(r.Context(), http.MethodGet, target.String()+"/version", nil)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	resp, err := rt.RoundTrip(req)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	info := version.Info{}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	release, _, _ := strings.Cut(DefaultVersion, "-")
	info.GitVersion = release
	if major, rest, ok := strings.Cut(strings.TrimPrefix(release, "v"), "."); ok {
		info.Major = major
		info.Minor, _, _ = strings.Cut(rest, ".")
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(info)
}

// writeProxyKubeconfig writes the administrator's kubeconfig with the
// proxy as the server.
func (e *Env) writeProxyKubeconfig(server string) (string, error) {
	kc := clientcmdapi.NewConfig()
	kc.Clusters["testenv"] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: e.Config.CAData}
	kc.AuthInfos["admin"] = &clientcmdapi.AuthInfo{ClientCertificateData: e.Config.CertData, ClientKeyData: e.Config.KeyData}
	kc.Contexts["testenv"] = &clientcmdapi.Context{Cluster: "testenv", AuthInfo: "admin"}
	kc.CurrentContext = "testenv"
	path := filepath.Join(e.dir, "kueue.kubeconfig")
	if err := clientcmd.WriteToFile(*kc, path); err != nil {
		return "", fmt.Errorf("unable to write '%s': %w", path, err)
	}
	return path, nil
}
