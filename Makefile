# 序列模型（Sequence Models）: every workflow is one command.
#   make book     build the site into _build/html (executes every notebook, "fast" profile)
#   make pdf      the whole book as one PDF, _build/pdf/sequence-models.pdf (after make book)
#   make test     the whole suite: package, notebooks, book build, assignments
#   make release  generate exercises/ from solutions/ (all, or A=a01-embedding)
#   make collect  copy a folder or LMS zip of notebooks into submitted/ (A=..., FROM=...)
#   make grade    check, repair and autograde every submission in parallel, each kernel sandboxed
#                 (all, or A=...; UNSAFE=1 grades where the sandbox cannot start, marking the report)
#   make feedback feedback HTML per student;  make export  grades.csv
#   make bench    timings and quality numbers, printed as tables
#   make serve    serve _build/html on http://localhost:8000
#   make test-oldest  the package's tests and one notebook per chapter at the oldest versions
#                 pyproject.toml allows, installed the way Colab's set-up cell does
#   make gpu-check    on a CUDA machine: GPU tests and every notebook in the full profile, timed
#   make sync-url write the repository URL of _config.yml into every notebook's Colab cell

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
PY     := $(BIN)/python
STAMP  := $(VENV)/.installed
A      ?= $(notdir $(wildcard solutions/*))

# CPU-sized runs unless the caller asks for more (SEQLAB_PROFILE=full make book on a GPU).
export SEQLAB_PROFILE ?= fast
export PYTHONHASHSEED ?= 0
# nbgrader and jupyter-book call tools (alembic, jupyter) by name: find them in the venv.
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: all venv book pdf test test-oldest gpu-check release collect grade feedback export bench serve sync-url clean

all: test

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -m pip install --quiet --no-deps -e .
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

venv: $(STAMP)

book: $(STAMP)
	$(BIN)/jupyter-book build . --builder html

pdf: $(STAMP)
	$(BIN)/jupyter-book build . --builder singlehtml
	$(PY) -m seqlab.course pdf

test-oldest: $(STAMP)
	$(PY) tests/oldest/run.py

gpu-check: $(STAMP)
	$(PY) bench/gpu_check.py

test: $(STAMP)
	$(PY) -m pytest

release: $(STAMP)
	@for a in $(A); do $(BIN)/nbgrader generate_assignment $$a --force || exit 1; done

collect: $(STAMP)
	@test -n "$(FROM)" || { echo "usage: make collect A=<assignment> FROM=<folder or LMS zip> [PATTERN=<regex>]"; exit 2; }
	$(PY) -m seqlab.grading collect $(A) "$(FROM)" $(if $(PATTERN),--pattern '$(PATTERN)')

grade: $(STAMP)
	$(PY) -m seqlab.grading grade $(A) $(if $(WORKERS),--workers $(WORKERS)) $(if $(UNSAFE),--unsafe)

feedback: $(STAMP)
	$(PY) -m seqlab.grading feedback $(A)

export: $(STAMP)
	$(PY) -m seqlab.grading export

bench: $(STAMP)
	$(PY) bench/run.py

serve:
	$(PY) -m http.server --directory _build/html 8000

sync-url: $(STAMP)
	$(PY) -m seqlab.course sync-url
	$(MAKE) release

clean:
	rm -rf _build .pytest_cache
