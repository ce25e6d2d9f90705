# The two commands: `make run` (set up, then serve the embedded default with demo content)
# and `make test` (set up, then run the whole test suite).
.PHONY: setup run test lint bench-ingest

setup:
	@scripts/setup.sh

run: setup
	.venv/bin/cadenza serve --demo

test: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/ruff format --check src tests bench
	.venv/bin/lint-imports
	cd player && npm test --silent
	.venv/bin/pytest -n 2 --dist loadfile

lint: setup
	.venv/bin/ruff check src tests bench
	.venv/bin/lint-imports

bench-ingest: setup
	.venv/bin/python bench/ingest.py
