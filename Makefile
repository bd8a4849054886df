# Two commands do all set-up on a fresh machine:
#   make demo   analyse a bundled sample video, write demo_out/report.html
#   make test   run the test suite
# Each creates its own virtual environment.
PYTHON ?= python3
SHARED ?= $(abspath ../shared)
# Use the shared model copy when there is one beside the project (no internet here).
ifneq ($(wildcard $(SHARED)/models/face_landmarker.task),)
SYNKAN_MODEL ?= $(SHARED)/models/face_landmarker.task
export SYNKAN_MODEL
endif
export SYNKAN_SHARED = $(SHARED)

DEMO_VENV = .venv-demo
TEST_VENV = .venv-test
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test docs fuzz system-deps samples validate normative bench bench-live clean

$(DEMO_VENV)/.done: pyproject.toml
	$(PYTHON) -m venv $(DEMO_VENV)
	$(DEMO_VENV)/bin/pip install -q -e .
	touch $@

$(TEST_VENV)/.done: pyproject.toml
	$(PYTHON) -m venv $(TEST_VENV)
	$(TEST_VENV)/bin/pip install -q -e ".[dev]"
	touch $@

demo: $(DEMO_VENV)/.done
	$(DEMO_VENV)/bin/synkan analyze sample_videos/oral_ocular_left.mp4 -o demo_out --force
	@echo "Open demo_out/report.html in a browser."

# Chromium renders the HTML report and prints the PDF in tests; ffmpeg makes test videos; pdftotext reads the
# printed PDF; strace watches the PDF browser for network lookups.
system-deps:
	@command -v chromium >/dev/null && command -v ffmpeg >/dev/null && command -v pdftotext >/dev/null \
	  && command -v strace >/dev/null || \
	  ($(SUDO) apt-get update -q && $(SUDO) apt-get install -y -q chromium ffmpeg poppler-utils strace)

test: $(TEST_VENV)/.done system-deps
	$(TEST_VENV)/bin/python -m pytest -q

# Every fuzz input (120 damaged and unusual videos); `make test` runs one of each kind.
fuzz: $(TEST_VENV)/.done system-deps
	SYNKAN_FUZZ=full $(TEST_VENV)/bin/python -m pytest -q -s tests/test_fuzz.py

samples: $(TEST_VENV)/.done
	$(TEST_VENV)/bin/synkan synth sample_videos/cases/*.json -o sample_videos

validate: $(TEST_VENV)/.done
	$(TEST_VENV)/bin/synkan validate -o out/validate --real $(SHARED)/videos

# The healthy reference shipped in synkan/data/normative.json, from the shared healthy videos.
normative: $(TEST_VENV)/.done
	$(TEST_VENV)/bin/synkan validate --normative --real $(SHARED)/videos -o out/normative
	cp out/normative/normative.json synkan/data/normative.json

bench: $(TEST_VENV)/.done
	$(TEST_VENV)/bin/python benchmarks/bench_pipeline.py

# synkan live: the real page in headless Chromium with a fake 640x480 camera (needs system-deps).
bench-live: $(TEST_VENV)/.done system-deps
	$(TEST_VENV)/bin/python benchmarks/bench_live.py

# The documentation (docs/, mkdocs.yml) as a static site in site/; warnings are errors, nothing is fetched.
DOCS_VENV = .venv-docs
$(DOCS_VENV)/.done: pyproject.toml
	$(PYTHON) -m venv $(DOCS_VENV)
	$(DOCS_VENV)/bin/pip install -q -e . "mkdocs>=1.6,<2" "mkdocstrings[python]>=0.26"
	touch $@

docs: $(DOCS_VENV)/.done
	$(DOCS_VENV)/bin/mkdocs build --strict

clean:
	rm -rf $(DEMO_VENV) $(TEST_VENV) $(DOCS_VENV) demo_out out site
