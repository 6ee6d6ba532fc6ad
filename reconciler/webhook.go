package reconciler

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/sparkcd/sparkcd/api/v1alpha1"
)

// WebhookPathPrefix is where the receiver serves: POST
// /hooks/<namespace>/<jobsource>.
const WebhookPathPrefix = "/hooks/"

// webhookTokenKey is the key of the webhook Secret that holds the token.
const webhookTokenKey = "token"

// WebhookOptions configure the webhook receiver.
type WebhookOptions struct {
	// Reader reads JobSources and their webhook Secrets. Use an uncached
	// reader (the manager's GetAPIReader) so sparkcd needs only "get" on
	// Secrets; nil reads through the client.
	Reader client.Reader
	// Secrets reads a source's webhook Secret as the source loop reads
	// its other Secrets, as the source's service account when it has one
	// (pass the SourceReconciler); nil reads it through Reader as sparkcd.
	Secrets SourceSecrets
	// MaxBodyBytes bounds a request's body; larger ones get 413.
	MaxBodyBytes int64
	// Clock stamps the reconcile requests.
	Clock clock.PassiveClock
	// Logger logs each request's outcome, never a token or signature.
	Logger logr.Logger
}

// DefaultWebhookOptions returns the receiver's defaults: 1 MiB bodies.
func DefaultWebhookOptions() WebhookOptions {
	return WebhookOptions{MaxBodyBytes: 1 << 20, Clock: clock.RealClock{}, Logger: logr.Discard()}
}

// webhookHandler verifies a git host's webhook and asks the source loop
// for a fetch of the JobSource it names.
type webhookHandler struct {
	client client.Client
	opts   WebhookOptions
}

// NewWebhookHandler returns the receiver of POST /hooks/<namespace>/<name>.
// It verifies GitHub's X-Hub-Signature-256 (HMAC-SHA256 of the body),
// GitLab's X-Gitlab-Token, or a generic "X-Signature: sha256=<hex>" HMAC
// against the "token" key of the Secret in the JobSource's
// spec.webhookSecretRef, in constant time, and on success sets the
// JobSource's sparkcd.io/reconcile-requested-at annotation, which the
// leader's source loop answers. Answers: 202 accepted, 401 bad or missing
// signature, 404 unknown source or a source without a webhook Secret, 405
// not a POST, 413 a body over the limit.
func NewWebhookHandler(c client.Client, opts WebhookOptions) http.Handler {
	d := DefaultWebhookOptions()
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = d.MaxBodyBytes
	}
	if opts.Clock == nil {
		opts.Clock = d.Clock
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = d.Logger
	}
	if opts.Reader == nil {
		opts.Reader = c
	}
	return &webhookHandler{client: c, opts: opts}
}

// ServeHTTP implements http.Handler.
func (h *webhookHandler) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	key, ok := webhookSource(req.URL.Path)
	if !ok {
		http.NotFound(w, req)
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	log := h.opts.Logger.WithValues("jobsource", key.String())
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, h.opts.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			http.Error(w, "request body too large", http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "unable to read the request body", http.StatusBadRequest)
		return
	}
	token, status := h.token(req, key)
	if status != http.StatusOK {
		log.V(1).Info("webhook refused", "status", status)
		http.Error(w, http.StatusText(status), status)
		return
	}
	if !verified(req.Header, body, token) {
		log.Info("webhook refused: bad or missing signature")
		http.Error(w, "bad or missing signature", http.StatusUnauthorized)
		return
	}
	if req.Header.Get("X-GitHub-Event") == "ping" {
		w.WriteHeader(http.StatusOK)
		return
	}
	// Every replica answers webhooks, the leader or not: the request is an
	// annotation that only the leader acts on, so it passes the fence.
	if err := RequestReconcile(withoutFence(req.Context()), h.client, key, h.opts.Clock.Now()); err != nil {
		if apierrors.IsNotFound(err) {
			http.NotFound(w, req)
			return
		}
		log.Error(err, "unable to request a reconcile")
		http.Error(w, "unable to request a reconcile", http.StatusInternalServerError)
		return
	}
	log.Info("webhook accepted")
	w.WriteHeader(http.StatusAccepted)
}

// token reads the source's webhook token; a status other than 200 says
// why there is none.
func (h *webhookHandler) token(req *http.Request, key types.NamespacedName) ([]byte, int) {
	src := &v1alpha1.JobSource{}
	if err := h.opts.Reader.Get(req.Context(), key, src); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, http.StatusNotFound
		}
		return nil, http.StatusInternalServerError
	}
	if src.Spec.WebhookSecretRef == nil || src.Spec.WebhookSecretRef.Name == "" {
		return nil, http.StatusNotFound
	}
	secret, err := h.secret(req.Context(), src)
	if err != nil {
		if apierrors.IsNotFound(err) {
			return nil, http.StatusNotFound
		}
		// A refusal names the Secret and the grant it needs; the caller
		// learns only that the receiver failed.
		h.opts.Logger.Error(err, "unable to read the webhook Secret", "jobsource", key.String())
		return nil, http.StatusInternalServerError
	}
	token := secret.Data[webhookTokenKey]
	if len(token) == 0 {
		return nil, http.StatusNotFound
	}
	return token, http.StatusOK
}

// secret reads src's webhook Secret.
func (h *webhookHandler) secret(ctx context.Context, src *v1alpha1.JobSource) (*corev1.Secret, error) {
	name := src.Spec.WebhookSecretRef.Name
	if h.opts.Secrets != nil {
		return h.opts.Secrets.SourceSecret(ctx, src, name, "spec.webhookSecretRef")
	}
	return getSourceSecret(ctx, h.opts.Reader, "", types.NamespacedName{Namespace: src.Namespace, Name: name}, "spec.webhookSecretRef")
}

// verified checks the request's signature or token against the Secret's
// token, in constant time. The first header present decides.
func verified(hdr http.Header, body, token []byte) bool {
	switch {
	case hdr.Get("X-Hub-Signature-256") != "":
		return validHMAC(hdr.Get("X-Hub-Signature-256"), body, token)
	case hdr.Get("X-Signature") != "":
		return validHMAC(hdr.Get("X-Signature"), body, token)
	case hdr.Get("X-Gitlab-Token") != "":
		return subtle.ConstantTimeCompare([]byte(hdr.Get("X-Gitlab-Token")), token) == 1
	}
	return false
}

// validHMAC checks "sha256=<hex>" against the HMAC-SHA256 of body.
func validHMAC(sig string, body, key []byte) bool {
	hexSig, ok := strings.CutPrefix(sig, "sha256=")
	if !ok {
		return false
	}
	got, err := hex.DecodeString(hexSig)
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// webhookSource parses /hooks/<namespace>/<name>.
func webhookSource(path string) (types.NamespacedName, bool) {
	rest, ok := strings.CutPrefix(path, WebhookPathPrefix)
	if !ok {
		return types.NamespacedName{}, false
	}
	ns, name, ok := strings.Cut(strings.TrimSuffix(rest, "/"), "/")
	if !ok || len(validation.IsDNS1123Label(ns)) > 0 || len(validation.IsDNS1123Subdomain(name)) > 0 {
		return types.NamespacedName{}, false
	}
	return types.NamespacedName{Namespace: ns, Name: name}, true
}

// RequestReconcile asks the source loop for a fetch of a JobSource now, by
// setting its sparkcd.io/reconcile-requested-at annotation to at.
func RequestReconcile(ctx context.Context, c client.Client, key types.NamespacedName, at time.Time) error {
	value := at.UTC().Format(time.RFC3339Nano)
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, AnnotationReconcileRequestedAt, value)
	obj := &v1alpha1.JobSource{}
	obj.Namespace, obj.Name = key.Namespace, key.Name
	if err := c.Patch(ctx, obj, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(FieldManager)); err != nil {
		return fmt.Errorf("unable to request a reconcile of JobSource '%s': %w", key, err)
	}
	return nil
}
