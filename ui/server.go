package ui

import (
	"context"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/watch"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Reader reads the cluster: get, list and watch, nothing that writes. A
// controller-runtime client.WithWatch is one.
type Reader interface {
	client.Reader
	Watch(ctx context.Context, list client.ObjectList, opts ...client.ListOption) (watch.Interface, error)
}

// LogReader returns the last lines of a container's log (get pods/log).
type LogReader interface {
	TailLog(ctx context.Context, namespace, pod, container string, lines int64) (string, error)
}

// DefaultAcceptHosts are the Host headers served by default: the loopback
// names only, as kubectl proxy accepts, so a web page that rebinds its own
// DNS name to 127.0.0.1 cannot read the view.
var DefaultAcceptHosts = []string{`^localhost$`, `^127\.0\.0\.1$`, `^\[::1\]$`}

// contentSecurityPolicy lets the page load only its own script and style
// sheet and talk only to its own server.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

//go:embed assets
var assets embed.FS

// Server is the web view. It holds no state of the cluster: every page is
// read when it is requested, and the watches only say when to read again.
type Server struct {
	reader    Reader
	logs      LogReader
	namespace string
	logLines  int64
	hosts     []*regexp.Regexp
	log       *slog.Logger
	pages     map[string]*template.Template
	events    *broadcaster
	clean     func(string) string
}

// Option configures a Server.
type Option func(*Server) error

// WithNamespace limits the view to one namespace; the default is every
// namespace the reader may list.
func WithNamespace(ns string) Option {
	return func(s *Server) error { s.namespace = ns; return nil }
}

// WithLogLines sets how many lines of the driver log a run page shows
// (default 100).
func WithLogLines(n int64) Option {
	return func(s *Server) error { s.logLines = n; return nil }
}

// WithMessageCleaner sets how condition and run messages are tidied for
// the page (the CLI's status removes cache paths the same way); the default
// shows them as they are.
func WithMessageCleaner(clean func(string) string) Option {
	return func(s *Server) error { s.clean = clean; return nil }
}

// WithLogger sets the logger (default: slog's default).
func WithLogger(l *slog.Logger) Option {
	return func(s *Server) error { s.log = l; return nil }
}

// WithAcceptHosts sets the regular expressions a request's Host (without
// its port) must match; the default is DefaultAcceptHosts.
func WithAcceptHosts(patterns []string) Option {
	return func(s *Server) error {
		s.hosts = nil
		for _, p := range patterns {
			re, err := regexp.Compile(p)
			if err != nil {
				return fmt.Errorf("invalid accepted host pattern '%s': %w", p, err)
			}
			s.hosts = append(s.hosts, re)
		}
		return nil
	}
}

// New returns the web view over reader and logs.
func New(reader Reader, logs LogReader, opts ...Option) (*Server, error) {
	s := &Server{reader: reader, logs: logs, logLines: 100, log: slog.Default(), events: newBroadcaster(),
		clean: func(m string) string { return m }}
	if err := WithAcceptHosts(DefaultAcceptHosts)(s); err != nil {
		return nil, err
	}
	for _, o := range opts {
		if err := o(s); err != nil {
			return nil, err
		}
	}
	pages, err := parsePages()
	if err != nil {
		return nil, err
	}
	s.pages = pages
	return s, nil
}

// parsePages parses each page with the shared layout.
func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range []string{"overview", "run", "error"} {
		t, err := template.New(name).ParseFS(assets, "assets/layout.html", "assets/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("unable to parse the %s page: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// Handler serves the view: GET (and HEAD) only.
func (s *Server) Handler() http.Handler {
	static, _ := fs.Sub(assets, "assets/static")
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.serveOverview)
	mux.HandleFunc("GET /runs/{namespace}/{job}/{run}", s.serveRun)
	mux.HandleFunc("GET /events", s.serveEvents)
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))
	return s.guard(mux)
}

// guard refuses every method but GET and HEAD, and hosts not accepted, and
// sets the security headers on every answer.
func (s *Server) guard(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "sparkcd ui is read-only: only GET and HEAD are served", http.StatusMethodNotAllowed)
			return
		}
		if !s.acceptHost(r.Host) {
			http.Error(w, "host not accepted (see --accept-hosts)", http.StatusForbidden)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) acceptHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
		if strings.Contains(h, ":") {
			host = "[" + h + "]"
		}
	}
	for _, re := range s.hosts {
		if re.MatchString(host) {
			return true
		}
	}
	return false
}

// render writes a page, or a plain error when the template fails.
func (s *Server) render(w http.ResponseWriter, status int, page string, data any) {
	var b strings.Builder
	if err := s.pages[page].ExecuteTemplate(&b, "layout", data); err != nil {
		s.log.Error("unable to render a page", "page", page, "error", err)
		http.Error(w, "unable to render the page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(b.String()))
}

// renderError shows a page that says what could not be read.
func (s *Server) renderError(w http.ResponseWriter, status int, err error) {
	s.render(w, status, "error", errorPage{Title: http.StatusText(status), Message: err.Error()})
}

type errorPage struct {
	Title   string
	Message string
}
