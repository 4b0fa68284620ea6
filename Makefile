# flow: the two commands a new user needs are `make run` and `make test`.
# Every target that needs system packages depends on `deps`, which installs what is missing.

SWIFT      ?= swift
CONFIG     ?= release
FLOW       := .build/$(CONFIG)/flow
DEBIAN_PKGS := libxxhash-dev xxhash liblz4-dev lz4 libsqlite3-dev libarchive-dev libturbojpeg0-dev \
               libpng-dev libopenblas-dev pkg-config slurm-wlm munge \
               libcurl4-openssl-dev nginx openssl
DAG        ?= workflows/pretrain.dag

.PHONY: all deps build run test bench fuzz soak report-check clean reference-check

all: build

## deps: install the Debian packages flow builds against (only those missing).
deps:
	@missing=""; for p in $(DEBIAN_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && \
	  DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q -o DPkg::Lock::Timeout=600 $$missing; \
	fi

## build: the flow binary (release). The Swift runtime and Foundation are linked in statically:
## every command starts about 40% sooner (fewer shared libraries to load; see bench/RESULTS.md).
## So is GCC's C++ runtime under them, by the release link settings in Package.swift.
STATIC_STDLIB ?= --static-swift-stdlib
build: deps
	$(SWIFT) build -c $(CONFIG) --product flow $(STATIC_STDLIB)
	$(SWIFT) build -c $(CONFIG) --product flow-supervisor

## run: the main job, the DINOv2 lifecycle in miniature.
run: build
	$(FLOW) run $(DAG)

## test: unit and end-to-end tests (Swift Testing); the end-to-end tests run the built binary.
## Nothing may be skipped here (FLOW_REQUIRE_ALL=1): a test that lacks Python, Slurm or tmpfs fails.
## Interoperability tests use the Python in .venv (numpy, safetensors, webdataset, Pillow).
test: deps .venv/ok
	$(SWIFT) build --build-tests
	FLOW_BIN=$(CURDIR)/.build/debug/flow FLOW_PYTHON=$(CURDIR)/.venv/bin/python FLOW_REQUIRE_ALL=1 \
	  $(SWIFT) test --skip-build --parallel --num-workers 2

PY_PKGS := numpy safetensors webdataset pillow
.venv/ok:
	python3 -m venv .venv
	.venv/bin/pip install -q $(PY_PKGS)
	touch $@

## soak: the kill-and-resume, kill-while-starting, gc-during-run, shared-checkpoint and
## kill-during-restore tests with 200 rounds each instead of a few.
soak: deps .venv/ok
	$(SWIFT) build --build-tests
	FLOW_BIN=$(CURDIR)/.build/debug/flow FLOW_SOAK_TRIALS=200 $(SWIFT) test --skip-build --filter 'killedAtRandomMoments|ResilienceTests'

## fuzz: every libFuzzer target for FUZZ_SECONDS each (default 600), from the committed corpora.
FUZZ_SECONDS ?= 600
FUZZ_TARGETS ?= dag npy safetensors shard image
fuzz: deps
	for t in $(FUZZ_TARGETS); do bash fuzz/run.sh $$t $(FUZZ_SECONDS) || exit 1; done

## bench: the engine benchmarks against make, ninja (and snakemake, dvc), and hashing against xxhsum.
bench: build
	bash bench/setup-peers.sh
	FLOW_BIN=$(CURDIR)/$(FLOW) bash bench/dag-bench.sh
	FLOW_BIN=$(CURDIR)/$(FLOW) bash bench/hash.sh

## bench-remote: the remote cache's pull speed against dvc pull and parallel curl from one local nginx,
## and the no-op run with and without a remote (results: bench/RESULTS-remote.md).
.PHONY: bench-remote
bench-remote: build
	bash bench/setup-peers.sh
	FLOW_BIN=$(CURDIR)/$(FLOW) bash bench/remote-cache.sh

## report-check: runs tests/browser/demo.dag, writes its HTML report, and renders it in headless
## Chromium (installed if missing), failing on a page error or a missing section.
report-check: build
	command -v chromium >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -q chromium; }
	d=$$(mktemp -d) && cp tests/browser/demo.dag $$d/ && cd $$d && \
	  $(CURDIR)/$(FLOW) run -q demo.dag && $(CURDIR)/$(FLOW) report demo.dag -o report.html && \
	  $(CURDIR)/tests/browser/render.sh report.html $$d/report.png graph timeline steps metrics loss clusters accuracy && \
	  echo "report-check: $$d/report.png"

clean:
	rm -rf .build

## differential: the engine's differential test (random workflows and edits, each run compared
## with a clean run) with DIFF_EDITS edits over DIFF_SEEDS seeds instead of make test's 200 over 4.
## FLOW_DIFF_SEED=N runs one seed (to reproduce a failure with the FLOW_DIFF_EDITS it printed).
DIFF_EDITS ?= 4000
DIFF_SEEDS ?= 40
.PHONY: differential
differential: deps
	$(SWIFT) build --build-tests
	FLOW_BIN=$(CURDIR)/.build/debug/flow FLOW_DIFF_EDITS=$(DIFF_EDITS) FLOW_DIFF_SEEDS=$(DIFF_SEEDS) \
	  $(SWIFT) test --skip-build --parallel --num-workers 2 --filter DifferentialTests

## reference-check: flow against the reference dinov2 modules (CPU PyTorch) on identical inputs:
## backbone both ways, heads, losses, masks. Installs its own virtualenv in .venv-ref/; not part
## of `make test`. Results and method: docs/reference-check.md.
reference-check: build
	FLOW_BIN=$(CURDIR)/$(FLOW) bash reference/run.sh
