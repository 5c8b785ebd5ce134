# fedscore: make demo runs a whole federation on loopback; make test runs every test.
GO ?= go
GOBIN := $(shell $(GO) env GOPATH)/bin
BIN := bin/fedscore
# Real datasets live beside the project, never in it; tests that need them skip when absent.
FEDSCORE_DATASETS ?= $(wildcard $(abspath ../shared/datasets))
export FEDSCORE_DATASETS

.PHONY: all build demo test lint proto bench fuzz faults clean

all: build

build:
	$(GO) build -o $(BIN) ./cmd/fedscore

demo: build
	./scripts/demo.sh

test:
	$(GO) test -race -timeout 30m ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# protoc comes from Debian's protobuf-compiler; the plugins are pinned here.
proto:
	@command -v protoc >/dev/null || apt-get install -y protobuf-compiler
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	$(GO) install google.golang.org/grpc/cmd/protoc-gen-go-grpc@v1.6.2
	PATH=$(GOBIN):$$PATH protoc -I api/fedscorepb -I /usr/include \
		--go_out=api/fedscorepb --go_opt=paths=source_relative \
		api/fedscorepb/*.proto
	PATH=$(GOBIN):$$PATH protoc -I api/fedscorepb -I api/fedscoregrpc -I /usr/include \
		--go_out=api/fedscoregrpc --go_opt=paths=source_relative \
		--go-grpc_out=api/fedscoregrpc --go-grpc_opt=paths=source_relative \
		api/fedscoregrpc/*.proto

# The fault and bad-input suite, as a table of scenarios (make test runs it too).
faults:
	$(GO) test -count=1 -run 'TestFaults' -v ./internal/faults 2>&1 | tee /tmp/fedscore-faults.log | grep -E '^\s+(SCENARIO|.*\s(PASS|FAIL)$$)|^(ok|FAIL|---)'; ! grep -qE '^(FAIL|--- FAIL)' /tmp/fedscore-faults.log

# Every fuzz target, each for a bounded time.
FUZZTIME ?= 10s
fuzz:
	@set -e; for pkg in $$(go list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz' || true); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; done

bench:
	$(GO) test -run '^$$' -bench . -benchtime 3x ./... | ./scripts/benchtable.sh

# The web console in headless Chromium against a live in-process federation
# (internal/e2e): installs Debian's chromium when it is missing, fails on any
# console error or missing element, and leaves screenshots in $(E2E_OUT).
E2E_OUT ?= $(CURDIR)/e2e-out
.PHONY: e2e
e2e:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }
	rm -rf $(E2E_OUT) && mkdir -p $(E2E_OUT)
	FEDSCORE_E2E=1 FEDSCORE_E2E_OUT=$(E2E_OUT) $(GO) test -count=1 -timeout 15m -run 'TestConsoleInChromium' -v ./internal/e2e
	@echo "screenshots in $(E2E_OUT): $$(ls $(E2E_OUT) | tr "\n" " ")"

clean:
	rm -rf bin demo-out
