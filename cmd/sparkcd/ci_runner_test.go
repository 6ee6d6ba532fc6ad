package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sparkcd/sparkcd/internal/gittest"
)

// The values of the GitHub contexts the recipe reads.
const (
	recipeToken    = "test-token"
	recipeRepoName = "acme/jobs"
)

// runWorkflow runs the workflow's one job for a pull request as the runner
// does and returns whether the job failed: a step failing without
// continue-on-error fails the job, and later steps run only if their
// `if:` says so.
func runWorkflow(t *testing.T, wf workflow, repo *gittest.Repo, bin, apiURL string, pr prRun) bool {
	t.Helper()
	ws := filepath.Join(t.TempDir(), "workspace")
	env := append(os.Environ(),
		"PATH="+bin+string(os.PathListSeparator)+os.Getenv("PATH"),
		"CI=true", "GITHUB_ACTIONS=true", "GITHUB_WORKSPACE="+ws,
		"GITHUB_API_URL="+apiURL, "GITHUB_REPOSITORY="+recipeRepoName)
	for k, v := range wf.Env {
		env = append(env, k+"="+expand(t, v, pr))
	}
	failed := false
	for _, job := range wf.Jobs {
		for i, st := range job.Steps {
			name := st.Name
			if name == "" {
				name = st.Uses + st.Run
			}
			if !stepRuns(t, st.If, failed) {
				t.Logf("PR %d step %d %q: skipped (if: %s)", pr.number, i, name, st.If)
				continue
			}
			ok := runStep(t, st, repo, ws, env, pr)
			t.Logf("PR %d step %d %q: success=%v", pr.number, i, name, ok)
			if !ok && !st.ContinueOnError {
				failed = true
			}
		}
	}
	return failed
}

// stepRuns evaluates the `if:` expressions the recipe may use.
func stepRuns(t *testing.T, cond string, failed bool) bool {
	t.Helper()
	c := strings.TrimSpace(cond)
	if strings.HasPrefix(c, "${{") {
		c = strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(c, "${{"), "}}"))
	}
	switch c {
	case "", "success()":
		return !failed
	case "failure()":
		return failed
	case "always()", "!cancelled()":
		return true
	}
	t.Fatalf("the recipe test does not evaluate `if: %s`: teach stepRuns or simplify the recipe", cond)
	return false
}

var expression = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// expand replaces the ${{ … }} expressions of an env value.
func expand(t *testing.T, v string, pr prRun) string {
	t.Helper()
	return expression.ReplaceAllStringFunc(v, func(m string) string {
		switch e := expression.FindStringSubmatch(m)[1]; e {
		case "github.token":
			return recipeToken
		case "github.base_ref":
			return pr.baseRef
		case "github.event.pull_request.number", "github.event.number":
			return strconv.Itoa(pr.number)
		default:
			t.Fatalf("the recipe test does not know the expression %q", e)
			return ""
		}
	})
}

// runStep runs one step and reports whether it succeeded.
func runStep(t *testing.T, st workflowStep, repo *gittest.Repo, ws string, env []string, pr prRun) bool {
	t.Helper()
	switch {
	case strings.HasPrefix(st.Uses, "actions/checkout@"):
		if d, _ := st.With["fetch-depth"].(float64); st.With["fetch-depth"] == nil || d != 0 {
			t.Fatalf("actions/checkout needs fetch-depth: 0, for diff to read the base branch")
		}
		gittest.Run(t, filepath.Dir(ws), "clone", "-q", filepath.Join(repo.Root, gittest.RepoName), ws)
		gittest.Run(t, ws, "checkout", "-q", pr.head)
		return true
	case strings.HasPrefix(st.Uses, "actions/setup-go@"):
		if v := fmt.Sprint(st.With["go-version"]); v != "1.26" {
			t.Errorf("setup-go installs Go %s, sparkcd needs 1.26", v)
		}
		return true
	case st.Uses != "":
		t.Fatalf("the recipe test does not know the action %q", st.Uses)
	case strings.HasPrefix(st.Run, "go install "):
		if f := strings.Fields(st.Run); len(f) != 3 || !strings.HasPrefix(f[2], "github.com/sparkcd/sparkcd/cmd/sparkcd@") {
			t.Fatalf("the install step %q does not install sparkcd", st.Run)
		}
		return true // this tree's build is on PATH
	}
	script := filepath.Join(t.TempDir(), "step.sh")
	if err := os.WriteFile(script, []byte(st.Run), 0o644); err != nil {
		t.Fatal(err)
	}
	// The runner's default shell on Linux: bash -e {0}.
	cmd := exec.Command("bash", "-e", script)
	cmd.Dir = ws
	cmd.Env = append([]string(nil), env...)
	for k, v := range st.Env {
		cmd.Env = append(cmd.Env, k+"="+expand(t, v, pr))
	}
	out, err := cmd.CombinedOutput()
	t.Logf("%s", lastLines(string(out), 8))
	return err == nil
}

// githubAPI records the issue-comment calls of the recipe as GitHub's REST
// API answers them.
type githubAPI struct {
	*httptest.Server
	mu       sync.Mutex
	nextID   int
	comments map[int][]apiComment // by pull request number
}

type apiComment struct {
	ID   int    `json:"id"`
	Body string `json:"body"`
}

func newGitHubAPI(t *testing.T) *githubAPI {
	t.Helper()
	a := &githubAPI{comments: map[int][]apiComment{}, nextID: 100}
	mux := http.NewServeMux()
	prefix := "/repos/" + recipeRepoName + "/issues/"
	mux.HandleFunc("GET "+prefix+"{n}/comments", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		a.mu.Lock()
		defer a.mu.Unlock()
		list := append([]apiComment{}, a.comments[n]...)
		_ = json.NewEncoder(w).Encode(list)
	})
	mux.HandleFunc("POST "+prefix+"{n}/comments", func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.PathValue("n"))
		var c apiComment
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil || c.Body == "" {
			http.Error(w, "body required", http.StatusUnprocessableEntity)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		a.nextID++
		c.ID = a.nextID
		a.comments[n] = append(a.comments[n], c)
		w.WriteHeader(http.StatusCreated)
		_ = json.NewEncoder(w).Encode(c)
	})
	mux.HandleFunc("PATCH "+prefix+"comments/{id}", func(w http.ResponseWriter, r *http.Request) {
		id, _ := strconv.Atoi(r.PathValue("id"))
		var c apiComment
		if err := json.NewDecoder(r.Body).Decode(&c); err != nil || c.Body == "" {
			http.Error(w, "body required", http.StatusUnprocessableEntity)
			return
		}
		a.mu.Lock()
		defer a.mu.Unlock()
		for n, list := range a.comments {
			for i := range list {
				if list[i].ID == id {
					a.comments[n][i].Body = c.Body
					_ = json.NewEncoder(w).Encode(a.comments[n][i])
					return
				}
			}
		}
		http.NotFound(w, r)
	})
	a.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+recipeToken {
			http.Error(w, "bad credentials", http.StatusUnauthorized)
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(a.Close)
	return a
}

// comment returns the body of the pull request's sparkcd comment; GitHub
// refuses a body of 65,536 characters or more, so the server checks it as
// the test does.
func (a *githubAPI) comment(t *testing.T, pr int) string {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, c := range a.comments[pr] {
		if strings.HasPrefix(c.Body, "<!-- sparkcd diff -->") {
			return c.Body
		}
	}
	t.Fatalf("no sparkcd comment on pull request %d (comments: %d)", pr, len(a.comments[pr]))
	return ""
}

func (a *githubAPI) count(pr int) int {
	a.mu.Lock()
	defer a.mu.Unlock()
	n := 0
	for _, c := range a.comments[pr] {
		if strings.HasPrefix(c.Body, "<!-- sparkcd diff -->") {
			n++
		}
	}
	return n
}
