# Rowpack — the two commands of the README's quick start are `make demo` and `make test`.
SWIFT ?= swift
PYTHON ?= python3
ROWPACK_BIN := $(CURDIR)/.build/release/rowpack
export ROWPACK_BIN

.PHONY: deps test-deps build demo test test-swift test-python clean

# The system libraries Rowpack links: zlib and libzstd.
deps:
	@dpkg -s zlib1g-dev libzstd-dev >/dev/null 2>&1 || { \
		echo "installing zlib1g-dev libzstd-dev"; \
		apt-get update -qq && apt-get install -y -qq zlib1g-dev libzstd-dev >/dev/null; }

# The Python packages the interop tests use.
test-deps: deps
	@$(PYTHON) -c "import numpy, npy_append_array, zstandard, pytest" 2>/dev/null || { \
		echo "installing Python test packages"; \
		$(PYTHON) -m pip install -q -r Tests/interop/requirements.txt; }

build: deps
	$(SWIFT) build -c release --product rowpack

demo: build
	$(ROWPACK_BIN) demo

test: test-deps build
	$(SWIFT) test
	$(PYTHON) -m pytest -q Tests/interop Spec/tools

test-swift: deps
	$(SWIFT) test

test-python: test-deps build
	$(PYTHON) -m pytest -q Tests/interop Spec/tools

clean:
	rm -rf .build
