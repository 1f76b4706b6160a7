# The two commands of the README: `make run` and `make test`.
GO ?= go
export KYSO_CORPUS ?= $(abspath ../shared/corpus)
FUZZTIME ?= 30s

.PHONY: run test deps vet unit fuzz-smoke bench build

run:
	$(GO) run ./cmd/kyso serve

build:
	CGO_ENABLED=1 $(GO) build -o bin/ ./cmd/...

deps:
	./scripts/install-test-deps.sh

vet:
	$(GO) vet ./...
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt: files above are not formatted"; exit 1; }

unit:
	$(GO) test -count=1 -timeout 60m ./...

fuzz-smoke:
	./scripts/fuzz-smoke.sh $(FUZZTIME)

test: deps vet unit fuzz-smoke

bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...
