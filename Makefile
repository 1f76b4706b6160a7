# The two commands of the README, `make run` and `make test`, and the fast tier,
# `make fast`.
GO ?= go
export KYSO_CORPUS ?= $(abspath ../shared/corpus)
FUZZTIME ?= 30s
# staticcheck 2026.2.2 (module version v0.8.2) analyses this module under Go 1.26.
STATICCHECK_VERSION := v0.8.2
STATICCHECK := $(shell $(GO) env GOPATH)/bin/staticcheck

.PHONY: run test fast deps tools vet unit fuzz-smoke bench build

run:
	$(GO) run ./cmd/kyso serve --demo

build:
	CGO_ENABLED=1 $(GO) build -o bin/ ./cmd/...

# The fast tier: every test that needs no external part (SoftHSM2, PostgreSQL,
# Chromium, the corpus, a built server), about a minute on 2 cores; the skipped ones
# say what they need. Nothing to install.
fast:
	$(GO) test -short -count=1 ./...

# The full tier: installs the parts, then vet (with go mod tidy and staticcheck),
# every test (none skipped; a missing part fails naming its Debian package) and a
# fuzz smoke.
test: deps vet unit fuzz-smoke

deps: tools
	./scripts/install-test-deps.sh

tools:
	@$(STATICCHECK) -version 2>/dev/null | grep -qF '($(patsubst v%,%,$(STATICCHECK_VERSION)))' || { \
	  echo "installing staticcheck $(STATICCHECK_VERSION)"; \
	  GOBIN=$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION); }

vet: tools
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above are not formatted"; exit 1; }
	@$(GO) mod tidy -diff || { echo "go.mod/go.sum are not tidy: run go mod tidy"; exit 1; }
	$(STATICCHECK) ./...

unit:
	KYSO_NUMBERS_SOAK=$${KYSO_NUMBERS_SOAK:-20s} $(GO) test -count=1 -timeout 60m ./...

fuzz-smoke:
	./scripts/fuzz-smoke.sh $(FUZZTIME)

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
