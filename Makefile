# The platform's commands. Everything runs inside the project's own environment (.venv),
# created on first use with a pinned uv; only Python 3.11+ and make are needed beforehand.

PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
RUN := $(UV) run --frozen
PYTEST := $(RUN) pytest

.PHONY: run stop token test unit integration e2e lint typecheck bench env browser clean manifests contracts release-contracts k8s-check image

run: env  ## start every service, the broker and the database; Ctrl-C stops everything
	$(RUN) python -m devstack run

stop:  ## stop a running `make run` from another terminal
	@if [ -x $(UV) ]; then $(RUN) python -m devstack stop; else echo "the platform is not running"; fi

token: env  ## print a local development token: make token SCOPES="consent:read consent:write"
	@$(RUN) python -m devstack token $(SCOPES)

test: env browser lint typecheck k8s-check  ## every test tier, lint, type check and the manifests
	$(PYTEST) --durations=15 tests/unit tests/integration tests/e2e

unit: env
	$(PYTEST) tests/unit

integration: env
	$(PYTEST) tests/integration

e2e: env browser
	$(PYTEST) tests/e2e

lint: env
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: env
	$(RUN) mypy

bench: env  ## measurements, printed with the command that produced them
	$(RUN) python -m bench

env: .venv/.synced

CHROMIUM := /usr/bin/chromium
# the report page's browser test drives the operating system's Chromium (Playwright downloads none)
browser:  ## install Chromium from the Debian packages where it is missing (as root)
	@if [ -x $(CHROMIUM) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	  echo "installing chromium (apt-get)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
	else \
	  echo "the report page's browser test needs Chromium at $(CHROMIUM): run 'make browser' as root or 'apt-get install chromium'" >&2; \
	  exit 1; \
	fi

.venv/.synced: $(UV) pyproject.toml uv.lock */pyproject.toml libs/*/pyproject.toml services/*/pyproject.toml
	$(UV) sync --frozen
	@touch $@

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

clean:
	rm -rf .run .venv .tools .pytest_cache .mypy_cache .ruff_cache

manifests: env  ## render deploy/k8s/ (base, overlays dev and prod) from the settings and catalog
	$(RUN) python -m devstack.manifests deploy/k8s

k8s-check: env  ## render every overlay and validate it offline against Kubernetes and CRD schemas
	$(RUN) python -m devstack.kube.check deploy/k8s

IMAGE ?= ghcr.io/dialog-platform/dialog:0.1.0
# the first of docker and podman whose engine answers
ENGINE ?= $(shell for e in docker podman; do $$e info >/dev/null 2>&1 && echo $$e && break; done)

image:  ## build the container image where a container engine (docker or podman) answers
	@if [ -z "$(ENGINE)" ]; then echo "no container engine answers (docker or podman); the install step is tested without one: tests/integration/test_image_install.py" >&2; exit 1; fi
	$(ENGINE) build -t $(IMAGE) .

contracts: env  ## regenerate schemas/contracts/ (JSON Schemas, AsyncAPI) and docs/integration.md
	$(RUN) python -m dialog_schemas write

release-contracts: env  ## add the current schemas to the released set the compatibility test guards
	$(RUN) python -m dialog_schemas release
