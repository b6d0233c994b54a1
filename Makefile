# Stepwise developer targets. `make demo` and `make test` are the two commands
# of the README.
GO ?= go
export CGO_ENABLED := 1

.PHONY: demo test test-cold test-short setup build install statemachines goldens schema generate bench bench-reference bench-reference-10m bench-small bench-coldstart fuzz clean console-screenshots

## demo: generate sample data and run the win-back campaign end to end
demo: build
	./bin/stepwise demo

# The tests build with the bootstraps' flags (lambdalocal.BuildArgs), so the
# AWS-shape tests' bootstrap builds reuse the packages the test builds compiled.
TESTFLAGS := -trimpath -tags=lambda.norpc,netgo,osusergo

## test: install test tools, then run every test (what CI runs)
test: setup
	$(GO) vet $(TESTFLAGS) ./...
	$(GO) test $(TESTFLAGS) -count=1 -timeout 30m ./...
	$(MAKE) fuzz FUZZTIME=20000x

## test-cold: make test as CI starts it, with empty Go build and bootstrap
## caches (a warm machine's caches hide minutes of compiling and linking)
test-cold:
	d=$$(mktemp -d); GOCACHE=$$d/go STEPWISE_BOOTSTRAP_CACHE=$$d/bootstraps $(MAKE) test; rc=$$?; rm -rf $$d; exit $$rc

## setup: install npm tools, DynamoDB Local and Java when missing
setup:
	./infra/setup.sh

build:
	$(GO) build -o bin/stepwise ./cmd/stepwise

## install: go install ./cmd/stepwise into $(go env GOBIN), else $(go env GOPATH)/bin;
## says where the command landed and how to put that folder on PATH
install:
	$(GO) install ./cmd/stepwise
	@bin="$$($(GO) env GOBIN)"; [ -n "$$bin" ] || bin="$$($(GO) env GOPATH | cut -d: -f1)/bin"; \
	echo "installed $$bin/stepwise"; \
	case ":$$PATH:" in *":$$bin:"*) ;; *) echo "$$bin is not on PATH; add it: export PATH=\"$$bin:\$$PATH\"" ;; esac

## statemachines: regenerate statemachines/ (the ASL goldens) from examples/
statemachines:
	$(GO) test ./shared/compile -run TestStateMachinesGolden -update

## schema: regenerate docs/schema from the Go types
schema:
	$(GO) test ./shared/schema -run TestCommittedSchemasFresh -update

## goldens: regenerate every compiler golden (statemachines/, shared/compile/testdata)
goldens:
	$(GO) test ./shared/compile -run 'TestStateMachinesGolden|TestDiagnosticGoldens|TestActivityGoldens|TestAthenaUpdateGolden' -update

generate: goldens schema

# Budgets are execution counts (Nx), not durations: a duration budget on Go 1.26
# can fail a clean run with "context deadline exceeded" (go.dev/issue/75804,
# a race in the fuzz coordinator, fixed in Go 1.27).
FUZZTIME ?= 100000x
## fuzz: run each fuzz target briefly
fuzz:
	$(GO) test ./shared/campaign -run '^$$' -fuzz '^FuzzParseCampaign$$' -fuzztime $(FUZZTIME)
	$(GO) test ./shared/compile -run '^$$' -fuzz '^FuzzCompile$$' -fuzztime $(FUZZTIME)
	$(GO) test ./shared/condition -run '^$$' -fuzz '^FuzzDecodeCondition$$' -fuzztime $(FUZZTIME)
	$(GO) test ./shared/condition -run '^$$' -fuzz '^FuzzChoice$$' -fuzztime $(FUZZTIME)
	$(GO) test ./shared/template -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME)
	$(GO) test ./shared/unsubscribe -run '^$$' -fuzz '^FuzzAppendClaims$$' -fuzztime $(FUZZTIME)
	$(GO) test ./shared/unsubscribe -run '^$$' -fuzz '^FuzzSigner$$' -fuzztime $(FUZZTIME)
	$(GO) test ./shared/activity/channel -run '^$$' -fuzz '^FuzzPlainAddress$$' -fuzztime $(FUZZTIME)

## bench: the compiler, interpreter and template benchmarks (see docs/benchmarks.md)
bench:
	$(GO) test ./shared/compile ./shared/asl/interp ./shared/template -run '^$$' -bench . -benchmem

SIZES ?= 100000,1000000
MODES ?= test
CAMPAIGNS ?= reference,segments,leads
REPEAT ?= 2
## bench-reference: the bench campaigns against their hand-written limits (SIZES=... MODES=test,live CAMPAIGNS=... REPEAT=...)
bench-reference:
	$(GO) run ./bench/reference --sizes $(SIZES) --modes $(MODES) --campaigns $(CAMPAIGNS) --repeat $(REPEAT)

## bench-reference-10m: the same at 1M and 10M customers, with the 1M → 10M growth (~1 GB of data, minutes)
bench-reference-10m:
	$(MAKE) bench-reference SIZES=1000000,10000000

## bench-small: a 20k-customer, 8-activity campaign end to end (bench/small)
bench-small:
	$(GO) run ./bench/small --customers 20000 --repeat 5

## bench-coldstart: each Lambda's init and first invocation under RIE (bench/coldstart)
bench-coldstart:
	$(GO) run ./bench/coldstart --repeat 3

clean:
	rm -rf bin .stepwise stepwise-demo

# Lambda builds (SAM's build-<LogicalId> targets), `make lambdas`, `make dev`.
include Makefile.lambda

## console-screenshots: regenerate docs/img/console-*.png from the browser tests
console-screenshots:
	mkdir -p docs/img
	STEPWISE_SCREENSHOTS=$(CURDIR)/docs/img $(GO) test -count=1 -run 'TestBrowser' ./shared/console
