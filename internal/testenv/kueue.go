package testenv

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	kueue "sigs.k8s.io/kueue/apis/kueue/v1beta2"
	"sigs.k8s.io/yaml"
)

// KueueVersion is the Kueue release hack/build-kueue.sh builds; it is the
// last element of the default Kueue directory.
const KueueVersion = "v0.17.0"

// KueueDirEnv overrides the directory Kueue's binary and manifests come
// from.
const KueueDirEnv = "SPARKCD_KUEUE_DIR"

// Kueue's names, as its release manifests (config/default) give them: the
// cert rotator finds its Secret, webhook configurations and CRDs by them.
const (
	KueueNamespace      = "kueue-system"
	kueueWebhookService = "kueue-webhook-service"
	kueueWebhookSecret  = "kueue-webhook-server-cert"
)

// kueueConversionCRDs are the CRDs Kueue's release converts with its
// webhook (config/components/crd/kustomization.yaml's patches).
var kueueConversionCRDs = []string{"localqueues", "clusterqueues", "cohorts", "workloads", "multikueueclusters"}

// WithKueue also starts Kueue's controller manager (built by
// hack/build-kueue.sh into $SPARKCD_KUEUE_DIR) against the control plane,
// with its CRDs, its webhooks and its conversion webhooks, as its release
// installs them. There is no cluster network, so its webhook server
// listens on loopback and the webhook configurations and CRDs call it by
// URL (https://127.0.0.1:port/…) instead of through its Service; its
// certificate is made here, valid for both names, and handed to Kueue's
// own cert rotator in the Secret it reads, which injects its CA. Kueue
// runs only the batch/job integration and no visibility server.
func WithKueue() Option {
	return func(o *options) { o.kueue = true }
}

// DefaultKueueDir is $SPARKCD_KUEUE_DIR, or
// ~/.cache/sparkcd/kueue/KueueVersion.
func DefaultKueueDir() string {
	if dir := os.Getenv(KueueDirEnv); dir != "" {
		return dir
	}
	home, err := os.UserHomeDir()
	if err != nil {
		home = os.TempDir()
	}
	return filepath.Join(home, ".cache", "sparkcd", "kueue", KueueVersion)
}

// checkKueue fails with how to build Kueue when its binary or manifests
// are missing.
func checkKueue() error {
	dir := DefaultKueueDir()
	for _, f := range []string{"kueue", filepath.Join("crd", "kueue.x-k8s.io_workloads.yaml"), filepath.Join("webhook", "manifests.yaml")} {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			return fmt.Errorf("%w: Kueue's '%s' not in '%s': run 'make testenv' (hack/build-kueue.sh), or set %s", ErrBinariesMissing, f, dir, KueueDirEnv)
		}
	}
	return nil
}

// startKueue installs Kueue's CRDs and webhook configurations, seeds its
// certificate Secret, starts it and waits for its readiness probe, which
// answers once its webhook server serves.
func (e *Env) startKueue(ctx context.Context) error {
	if err := kueue.AddToScheme(e.Scheme); err != nil {
		return fmt.Errorf("unable to add Kueue's types to the scheme: %w", err)
	}
	ports, err := freePorts(2)
	if err != nil {
		return err
	}
	webhookURL := loopbackURL("https", ports[0])
	certs, err := newKueueCerts(kueueWebhookService + "." + KueueNamespace + ".svc")
	if err != nil {
		return err
	}
	if err := e.seedKueueSecret(ctx, certs); err != nil {
		return err
	}
	if err := e.installKueueCRDs(ctx, webhookURL, certs.caPEM); err != nil {
		return err
	}
	if err := e.installKueueWebhooks(ctx, webhookURL, certs.caPEM); err != nil {
		return err
	}
	// In a cluster the Secret is mounted at the webhook's cert directory;
	// the rotator only checks that the files are there.
	certDir := filepath.Join(e.dir, "kueue-certs")
	if err := certs.write(certDir); err != nil {
		return err
	}
	probe := "127.0.0.1:" + strconv.Itoa(ports[1])
	config := filepath.Join(e.dir, "kueue-config.yaml")
	if err := os.WriteFile(config, []byte(kueueConfig(ports[0], probe, certDir)), 0o600); err != nil {
		return fmt.Errorf("unable to write Kueue's configuration: %w", err)
	}
	kubeconfig, err := e.startVersionProxy()
	if err != nil {
		return err
	}
	args := []string{"--config=" + config, "--kubeconfig=" + kubeconfig, "--feature-gates=VisibilityOnDemand=false"}
	p, err := startProcess("kueue", filepath.Join(DefaultKueueDir(), "kueue"), args, e.logPath("kueue"))
	if err != nil {
		return err
	}
	e.procs = append(e.procs, p)
	client := &http.Client{}
	err = p.waitReady(ctx, func(ctx context.Context) error {
		return httpOK(ctx, client, "http://"+probe+"/readyz")
	})
	client.CloseIdleConnections()
	if err != nil {
		return fmt.Errorf("kueue did not become ready: %w: %s", err, p.logTail(20))
	}
	return nil
}

// kueueConfig is Kueue's Configuration: no leader election, no metrics
// server, probes and webhooks on loopback, internal cert management on
// the seeded Secret.
func kueueConfig(webhookPort int, probe, certDir string) string {
	return fmt.Sprintf(`apiVersion: config.kueue.x-k8s.io/v1beta2
kind: Configuration
namespace: %s
health:
  healthProbeBindAddress: %s
metrics:
  bindAddress: "0"
webhook:
  host: 127.0.0.1
  port: %d
  certDir: %s
leaderElection:
  leaderElect: false
internalCertManagement:
  enable: true
  webhookServiceName: %s
  webhookSecretName: %s
integrations:
  frameworks:
  - batch/job
`, KueueNamespace, probe, webhookPort, certDir, kueueWebhookService, kueueWebhookSecret)
}

// seedKueueSecret creates Kueue's namespace and the Secret its cert
// rotator keeps its CA and serving certificate in.
func (e *Env) seedKueueSecret(ctx context.Context, c *kueueCerts) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: KueueNamespace}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return fmt.Errorf("unable to create namespace '%s': %w", KueueNamespace, err)
	}
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: kueueWebhookSecret, Namespace: KueueNamespace},
		Data: map[string][]byte{
			"ca.crt": c.caPEM, "ca.key": c.caKeyPEM, "tls.crt": c.certPEM, "tls.key": c.keyPEM,
		},
	}
	if err := e.Client.Create(ctx, secret); err != nil {
		return fmt.Errorf("unable to create Kueue's certificate Secret: %w", err)
	}
	return nil
}

// installKueueCRDs installs the CRDs of Kueue's release, the converted ones
// with their conversion webhook at webhookURL.
func (e *Env) installKueueCRDs(ctx context.Context, webhookURL string, caPEM []byte) error {
	files, err := filepath.Glob(filepath.Join(DefaultKueueDir(), "crd", "*.yaml"))
	if err != nil || len(files) == 0 {
		return fmt.Errorf("unable to find Kueue's CRDs in '%s': %v", DefaultKueueDir(), err)
	}
	var crds []*apiextensionsv1.CustomResourceDefinition
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return fmt.Errorf("unable to read '%s': %w", f, err)
		}
		crd := &apiextensionsv1.CustomResourceDefinition{}
		if err := yaml.Unmarshal(data, crd); err != nil {
			return fmt.Errorf("unable to decode '%s': %w", f, err)
		}
		for _, name := range kueueConversionCRDs {
			if crd.Name == name+"."+kueue.GroupVersion.Group {
				crd.Spec.Conversion = &apiextensionsv1.CustomResourceConversion{
					Strategy: apiextensionsv1.WebhookConverter,
					Webhook: &apiextensionsv1.WebhookConversion{
						ClientConfig:             &apiextensionsv1.WebhookClientConfig{URL: ptr.To(webhookURL + "/convert"), CABundle: caPEM},
						ConversionReviewVersions: []string{"v1"},
					},
				}
			}
		}
		crds = append(crds, crd)
	}
	if _, err := envtest.InstallCRDs(e.Config, envtest.CRDInstallOptions{CRDs: crds, Scheme: e.Scheme, MaxTime: time.Until(deadline(ctx))}); err != nil {
		return fmt.Errorf("unable to install Kueue's CRDs: %w", err)
	}
	return nil
}

// installKueueWebhooks creates the webhook configurations of Kueue's
// release, named as its kustomization names them, calling webhookURL, and
// keeping the workload webhooks off kube-system and Kueue's namespace as
// its kustomization does.
func (e *Env) installKueueWebhooks(ctx context.Context, webhookURL string, caPEM []byte) error {
	path := filepath.Join(DefaultKueueDir(), "webhook", "manifests.yaml")
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("unable to read '%s': %w", path, err)
	}
	system := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{
		Key: "kubernetes.io/metadata.name", Operator: metav1.LabelSelectorOpNotIn, Values: []string{"kube-system", KueueNamespace},
	}}}
	clientConfig := func(cc *admissionregistrationv1.WebhookClientConfig) {
		p := ""
		if cc.Service != nil && cc.Service.Path != nil {
			p = *cc.Service.Path
		}
		*cc = admissionregistrationv1.WebhookClientConfig{URL: ptr.To(webhookURL + p), CABundle: caPEM}
	}
	for _, doc := range bytes.Split(data, []byte("\n---")) {
		var objs []client.Object
		switch {
		case bytes.Contains(doc, []byte("kind: MutatingWebhookConfiguration")):
			m := &admissionregistrationv1.MutatingWebhookConfiguration{}
			if err := yaml.Unmarshal(doc, m); err != nil {
				return fmt.Errorf("unable to decode '%s': %w", path, err)
			}
			m.Name = "kueue-" + m.Name
			for i := range m.Webhooks {
				clientConfig(&m.Webhooks[i].ClientConfig)
				if workloadWebhook(m.Webhooks[i].Name) {
					m.Webhooks[i].NamespaceSelector = system
				}
			}
			objs = append(objs, m)
		case bytes.Contains(doc, []byte("kind: ValidatingWebhookConfiguration")):
			v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
			if err := yaml.Unmarshal(doc, v); err != nil {
				return fmt.Errorf("unable to decode '%s': %w", path, err)
			}
			v.Name = "kueue-" + v.Name
			for i := range v.Webhooks {
				clientConfig(&v.Webhooks[i].ClientConfig)
				if workloadWebhook(v.Webhooks[i].Name) {
					v.Webhooks[i].NamespaceSelector = system
				}
			}
			objs = append(objs, v)
		}
		for _, o := range objs {
			if err := e.Client.Create(ctx, o); err != nil {
				return fmt.Errorf("unable to create Kueue's webhook configuration '%s': %w", o.GetName(), err)
			}
		}
	}
	return nil
}

// workloadWebhook reports whether a webhook is one Kueue's kustomization
// keeps off kube-system and its own namespace: those of pods,
// deployments and statefulsets.
func workloadWebhook(name string) bool {
	for _, kind := range []string{"pod", "deployment", "statefulset"} {
		if strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(name, "m"), "v"), ".kb.io") == kind {
			return true
		}
	}
	return false
}
