# Tollgate — `make run` starts the gateway on its embedded defaults; `make test` runs every test.
# Works on a fresh machine with only Node and npm: Bun is installed from npm into .tools/.
SHELL := /bin/bash
BUN_VERSION := 1.4.5
TOOLS := $(CURDIR)/.tools
BUN := $(shell command -v bun 2>/dev/null || echo $(TOOLS)/node_modules/.bin/bun)
ARTIFACTS := $(CURDIR)/.test-artifacts

.PHONY: run test deps typecheck bench clean fuzz

$(TOOLS)/node_modules/.bin/bun:
	npm install --prefix $(TOOLS) --no-save --no-audit --no-fund bun@$(BUN_VERSION)

node_modules/.installed: package.json bun.lock | $(BUN)
	$(BUN) install --frozen-lockfile
	@touch $@

deps: $(BUN) node_modules/.installed

# The JavaScript engine sizes its heap from the RAM it believes the machine has (all of it by
# default): 384 MiB keeps the gateway process under 300 MiB under load at no measured CPU cost
# (docs/benchmarks.md, "Memory"). An explicit BUN_JSC_forceRAMSize in the environment wins.
run: export BUN_JSC_forceRAMSize ?= 402653184
run: deps
	$(BUN) run src/main.ts

typecheck: deps
	$(BUN) x tsc --noEmit -p .
	$(BUN) x tsc --noEmit -p src/console/ui

# The whole suite, with a real Redis and a real Kafka started for it (scripts/with-services.sh).
# Writes a JUnit report to .test-artifacts/junit.xml and ends with
# `tests: N passed, N failed` counted from it.
test: deps
	@mkdir -p $(ARTIFACTS)
	@rm -f $(ARTIFACTS)/junit.xml
	@set +e; \
	bash scripts/with-services.sh $(BUN) test --timeout 60000 --reporter=junit --reporter-outfile=$(ARTIFACTS)/junit.xml; status=$$?; \
	$(BUN) run scripts/junit-summary.ts $(ARTIFACTS)/junit.xml; summary=$$?; \
	if [ $$status -ne 0 ] || [ $$summary -ne 0 ]; then exit 1; fi

# The API fuzzer by hand (docs/api.md): SEED=random or a number, EXAMPLES per operation.
fuzz: deps
	bash scripts/schemathesis.sh install
	$(BUN) scripts/fuzz-api.ts --seed $(or $(SEED),random) --max-examples $(or $(EXAMPLES),50)

# Side by side (not part of `make test`): installs wrk, Portkey and LiteLLM under .services/bench
# first (bench/install.sh), then bench/compare.ts writes docs/benchmarks.md and bench/results/latest.json.
bench: deps
	bash bench/install.sh
	$(BUN) run bench/compare.ts

clean:
	rm -rf node_modules .tools $(ARTIFACTS) .services
