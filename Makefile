# slolab: each target is a thin wrapper over the `slolab` CLI. `make help` lists them.
# Targets that need the environment depend on `setup`, so `make lab NAME=x` works on a fresh clone.

PYTHON  ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
SLOLAB  := $(BIN)/slolab
STAMP   := $(VENV)/.installed
NATIVE  := $(VENV)/.engine-compiled
TOOLS   := .tools/bin
NAME    ?=
BACKEND ?= auto
SEED    ?=
EXPR    ?=
AT      ?=
START   ?=
END     ?=
STEP    ?=
JSON    ?=
EXPORT  ?=
TEAM    ?=
DURATION ?=
STOP_BURN ?=

.DEFAULT_GOAL := help
.PHONY: help setup native list lab grade hint reset solution promql metrics gameday scoreboard test test-fast lint bench doctor cluster clean require-name

help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-z-]+:.*## / {printf "  make %-10s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@# byte-compile slolab as pip does for a regular install: where PYTHONDONTWRITEBYTECODE is
	@# set, every `slolab` process would otherwise compile its modules anew (about 0.1 s a grade)
	$(BIN)/python -m compileall -q src operator labs > /dev/null
	touch $@

# helm (and kubectl, where it can be had without asking: see slolab.toolchain). kubectl is only
# needed by the kind and cluster backends, so on macOS and Linux arm64 setup goes on without it
# and says how to install it.
$(TOOLS)/helm: | $(STAMP)
	$(BIN)/python -m slolab.toolchain

# The simulator's engine compiled by mypyc (skipped with a message when there is no C compiler;
# the simulator then runs engine.py, same results, slower). Rebuilt whenever engine.py changes.
$(NATIVE): src/slolab/sim/engine.py | $(STAMP)
	$(BIN)/python -m slolab.nativebuild
	touch $@

setup: $(STAMP) $(NATIVE) $(TOOLS)/helm ## Create .venv, install slolab, compile the engine, put helm v4 and kubectl in .tools/bin

native: | $(STAMP) ## Compile the simulator's engine with mypyc again (setup does it when engine.py changes)
	$(BIN)/python -m slolab.nativebuild
	touch $(NATIVE)

require-name:
	@test -n "$(NAME)" || { echo "✗ NAME is missing. Run \`make list\` and then e.g. \`make lab NAME=readiness-probes\`."; exit 2; }

list: setup ## Show the labs (title, difficulty, time, backends)
	@$(SLOLAB) list

lab: setup require-name ## Start lab NAME (BACKEND=auto|sim|kind|cluster; cluster needs KUBE_CONTEXT)
	@$(SLOLAB) lab $(NAME) --backend $(BACKEND) $(if $(SEED),--seed $(SEED))

grade: setup require-name ## Grade lab NAME against its SLOs (reports in workspace/NAME/reports)
	@$(SLOLAB) grade $(NAME) --backend $(BACKEND) $(if $(SEED),--seed $(SEED))

hint: setup require-name ## Show the next hint for lab NAME
	@$(SLOLAB) hint $(NAME)

reset: setup require-name ## Restore lab NAME's starting state; your files go to workspace/.backups/
	@$(SLOLAB) reset $(NAME) $(if $(filter kind cluster,$(BACKEND)),--backend $(BACKEND))

solution: setup require-name ## Show lab NAME's reference fix (recorded as revealed)
	@$(SLOLAB) solution $(NAME)

promql: setup require-name ## PromQL over lab NAME's last grade on sim: EXPR='...' [AT=s | START=s END=s STEP=s] [JSON=1] (run seconds)
	@$(SLOLAB) promql $(NAME) $(if $(EXPR),'$(subst ','\'',$(EXPR))') $(if $(AT),--at $(AT)) $(if $(START),--start $(START)) $(if $(END),--end $(END)) $(if $(STEP),--step $(STEP)) $(if $(JSON),--json)

metrics: setup require-name ## Write lab NAME's last grade's samples to EXPORT=FILE as OpenMetrics (promtool, then Grafana)
	@$(SLOLAB) metrics $(NAME) $(if $(EXPORT),--export '$(EXPORT)')

gameday: setup require-name ## Game day on lab NAME: load + chaos, scored by error budget [TEAM=name] [DURATION=30m] [SEED=n] [STOP_BURN=100|off] [BACKEND=kind]
	@$(SLOLAB) gameday $(NAME) $(if $(TEAM),--team $(TEAM)) $(if $(DURATION),--duration $(DURATION)) $(if $(SEED),--seed $(SEED)) $(if $(STOP_BURN),--stop-burn $(STOP_BURN)) $(if $(filter kind cluster,$(BACKEND)),--backend $(BACKEND))

scoreboard: setup ## Rank the teams' game days (of lab NAME, or all) in the terminal and reports/gameday/scoreboard.html
	@$(SLOLAB) scoreboard $(NAME)

test: setup ## Run the test suite (what CI runs)
	$(BIN)/python -m pytest

test-fast: setup ## The inner loop: the tests not marked slow, helm or wallclock (well under a minute)
	$(BIN)/python -m pytest -q -m "not slow and not helm and not wallclock"

lint: setup ## ruff, helm lint --strict on every chart, strict 1.36 validation of every rendered manifest, layer contracts
	$(BIN)/ruff check src tests labs operator
	$(BIN)/ruff format --check src tests labs operator
	$(SLOLAB) lint
	@# the import layers of pyproject.toml [tool.importlinter]; last, so the checks above always run
	$(BIN)/lint-imports --no-cache

doctor: setup ## Check docker, kind, kubectl, helm and the kind cluster; say how to get what is missing
	@$(SLOLAB) doctor

cluster: setup ## Create the kind cluster, build and load the images, install platform and operator
	@$(SLOLAB) cluster

bench: setup ## Measure grade time, simulated req/s and peak RSS into bench.json
	$(SLOLAB) bench --output bench.json

clean: ## Remove .venv, .tools and caches (keeps workspace/)
	rm -rf $(VENV) .tools .pytest_cache .ruff_cache src/slolab/sim/_engine_native*.so
