# sparkcd — GitOps for Apache Spark on Kubernetes.
SHELL := /usr/bin/env bash -o pipefail
.DEFAULT_GOAL := help

export GOTOOLCHAIN := local
BIN := $(CURDIR)/bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)

CONTROLLER_GEN_VERSION := v0.23.0
KUSTOMIZE_VERSION := v5.8.2
CONTROLLER_GEN := $(BIN)/controller-gen-$(CONTROLLER_GEN_VERSION)
KUSTOMIZE := $(BIN)/kustomize-$(KUSTOMIZE_VERSION)

# The pinned control plane the tests and the demo run (hack/build-testenv.sh).
SPARKCD_TESTENV_DIR ?= $(HOME)/.cache/sparkcd/testenv/v1.36.3-etcdv3.6.8
export SPARKCD_TESTENV_DIR
# Kueue (hack/build-kueue.sh), for the queueing tests: a cache directory of
# its own, so the control plane's stays as it is.
SPARKCD_KUEUE_DIR ?= $(HOME)/.cache/sparkcd/kueue/v0.17.0
export SPARKCD_KUEUE_DIR

# The helm CLI the chart tests run (hack/build-helm.sh), built from its own
# module, never a dependency of sparkcd's.
HELM_VERSION := v4.3.2
SPARKCD_HELM ?= $(HOME)/.cache/sparkcd/tools/helm-$(HELM_VERSION)/helm
export SPARKCD_HELM

##@ General

.PHONY: help
help: ## Show this help.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2} /^##@/ {printf "\n%s\n", substr($$0, 5)}' $(MAKEFILE_LIST)

##@ Development

.PHONY: build
build: ## Build bin/sparkcd.
	go build -ldflags '$(LDFLAGS)' -o $(BIN)/sparkcd ./cmd/sparkcd

.PHONY: fmt
fmt: ## Format the Go sources.
	gofmt -s -w $$(git ls-files '*.go')

.PHONY: vet
vet: ## Run go vet.
	go vet ./...

.PHONY: lint
lint: vet ## Run the linters (go vet, gofmt check, and sizecheck: files ≤ 500 lines, functions ≤ 80).
	@out=$$(gofmt -s -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	go run ./hack/sizecheck

.PHONY: generate
generate: $(CONTROLLER_GEN) ## Regenerate deepcopy code and CRD manifests.
	$(CONTROLLER_GEN) object:headerFile=hack/boilerplate.go.txt paths=./api/...
	$(CONTROLLER_GEN) crd:maxDescLen=400 paths=./api/... output:crd:artifacts:config=deploy/crds
	go run ./hack/crddefaults deploy/crds/sparkcd.io_sparkjobs.yaml runid/zz_generated.crd_defaults.json
	$(MAKE) --no-print-directory chart-files

# Helm reads no file outside its chart: the files of deploy/ the chart
# renders as they are are copied into it (TestChartFilesCopied).
CHART_FILES := deploy/crds/sparkcd.io_*.yaml:crds deploy/components/monitoring/prometheusrule.yaml:monitoring \
	deploy/components/monitoring/grafana-dashboard.json:monitoring

.PHONY: chart-files
chart-files: ## Copy the CRDs, the alerts and the dashboard of deploy/ into deploy/chart/files.
	@set -e; for f in $(CHART_FILES); do mkdir -p deploy/chart/files/$${f##*:}; cp $${f%%:*} deploy/chart/files/$${f##*:}/; done

.PHONY: verify
verify: fmt generate ## Fail when formatting or generated files are stale.
	@git diff --exit-code -- . ':!go.sum' || { echo "generated or formatted files are stale: run 'make fmt generate' and commit"; exit 1; }

.PHONY: testenv
testenv: ## Build the pinned kube-apiserver, kube-controller-manager, kube-scheduler, kubectl, etcd, kwok and Kueue into the cache.
	hack/build-testenv.sh "$(SPARKCD_TESTENV_DIR)"
	hack/build-kwok.sh "$(SPARKCD_TESTENV_DIR)"
	hack/build-kueue.sh "$(SPARKCD_KUEUE_DIR)"

# Every parser's fuzz target with its budget, in executions: about twice
# what 10 s of fuzzing gave each under .ci/run's load. A count, not a
# duration: go1.26's fuzz coordinator can fail a run whose -fuzztime
# deadline lands while a worker is mid-input ("context deadline exceeded",
# no failing input; golang/go#75804, fixed in go1.27). FUZZTIME=30s (or
# 100000x) gives every target the same budget instead.
FUZZ_TARGETS := render/build:FuzzDecodeJob:7000x policies:FuzzLoadDocument:12000x reconciler:FuzzWebhook:2000x \
	cronjobs/schedule:FuzzParseSchedule:33000x render/sparkconf:FuzzParseMemoryMiB:40000x \
	render/sparkconf:FuzzParseDuration:40000x render/yamldoc:FuzzDecodeAsSigsYAML:50000x
FUZZTIME ?=

# The browser the ui test drives (cmd/sparkcd TestUIBrowser): Debian's chromium.
SPARKCD_CHROMIUM ?= /usr/bin/chromium
export SPARKCD_CHROMIUM

.PHONY: browser
browser: ## Install headless Chromium for the ui browser test (apt-get, as root), or print the command to run.
	@if [ -x "$(SPARKCD_CHROMIUM)" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  echo "installing chromium for the ui browser test"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; \
	else \
	  echo "the ui browser test needs Chromium at $(SPARKCD_CHROMIUM): run 'sudo apt-get install -y chromium', or set SPARKCD_CHROMIUM to a Chromium binary"; exit 1; \
	fi

.PHONY: test
test: testenv helm browser lint ## Run every test (builds the test control plane first), the fault suite included, then each fuzz target for its budget.
	go test -race -count=1 ./...
	$(MAKE) --no-print-directory fuzz

.PHONY: fuzz
fuzz: ## Run each fuzz target for its budget of executions (FUZZTIME=30s: each for that long).
	@set -e; for t in $(FUZZ_TARGETS); do pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; budget=$${rest#*:}; \
	  budget=$(if $(FUZZTIME),$(FUZZTIME),$$budget); echo "fuzz $$fn ./$$pkg ($$budget)"; \
	  go test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$budget -fuzzminimizetime 100x ./$$pkg; done

# Benchmarks that need the test control plane, one pass each (-benchtime 1x):
# each reports its own ratios and targets as metrics. BenchmarkServeScale
# runs bin/sparkcd (SPARKCD_BINARY) as a process of its own, on 1,000, 5,000
# and 10,000 SparkJobs (about ten minutes more on the two-core machine).
CLUSTER_BENCH_PKGS ?= ./reconciler/ ./cronjobs/... ./test/kueue/
CLUSTER_BENCH ?= .
# The Spark Operator's benchmark shape (BenchmarkOperatorShape, with KWOK
# nodes) runs on its own, with its flags: SparkJobs per pass, the paced
# pass's rate per minute, and the fast pass's (0: as fast as 32 clients
# create them; -1: no fast pass).
OPERATOR_BENCH ?= OperatorShape
OPERATOR_BENCH_FLAGS ?= -sparkcd.operator-jobs=6000 -sparkcd.operator-rate=1000 -sparkcd.operator-fast-rate=0

.PHONY: test-faults
test-faults: testenv ## Run only the fault suite (also part of make test) and print its figures.
	go test -race -count=1 -v ./test/faults/ | grep -E '^(FIGURES|--- |ok|FAIL)'

SEEDS ?= 10

.PHONY: test-faults-soak
test-faults-soak: testenv ## Run the fault suite SEEDS times (default 10), each with its own seed (SEED_BASE+i); print every failing seed.
	hack/faults-soak.sh $(SEEDS)

.PHONY: bench
bench: build $(KUSTOMIZE) testenv kwok ## Run the benchmarks and print their tables (render, review, then the cluster ones).
	go run ./hack/bench -sparkcd $(BIN)/sparkcd -kustomize $(KUSTOMIZE)
	SPARKCD_BINARY=$(BIN)/sparkcd go test -run '^$$' -bench '$(CLUSTER_BENCH)' -skip '$(OPERATOR_BENCH)' -benchtime 1x -timeout 90m $(CLUSTER_BENCH_PKGS)
	$(if $(OPERATOR_BENCH),go test -run '^$$' -bench '$(OPERATOR_BENCH)' -benchtime 1x -timeout 60m ./reconciler/ $(OPERATOR_BENCH_FLAGS))

.PHONY: demo
demo: build testenv kwok ## Run sparkcd's main job on a local control plane: commits → SparkJobs → runs → cleanup (QUEUE=kueue: and a Kueue queue).
	go run ./hack/demo -sparkcd $(BIN)/sparkcd $(if $(HOLD),-hold) $(if $(QUEUE),-queue $(QUEUE))

.PHONY: helm
helm: ## Build the helm CLI the chart tests run (deploy/chart) into the cache.
	HELM_VERSION=$(HELM_VERSION) hack/build-helm.sh "$(patsubst %/,%,$(dir $(SPARKCD_HELM)))"

.PHONY: kwok
kwok: ## Build KWOK (fake nodes for the demo) into the control plane's cache.
	hack/build-kwok.sh "$(SPARKCD_TESTENV_DIR)"

.PHONY: image
image: ## Build the container image (needs a Docker engine).
	docker build --build-arg VERSION=$(VERSION) -t ghcr.io/sparkcd/sparkcd:$(VERSION) .

##@ Tools

$(CONTROLLER_GEN):
	GOBIN=$(BIN) go install sigs.k8s.io/controller-tools/cmd/controller-gen@$(CONTROLLER_GEN_VERSION)
	mv $(BIN)/controller-gen $@

$(KUSTOMIZE):
	GOBIN=$(BIN) go install sigs.k8s.io/kustomize/kustomize/v5@$(KUSTOMIZE_VERSION)
	mv $(BIN)/kustomize $@
