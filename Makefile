# The two set-up commands of the README. Both create ./.venv and install everything first (scripts/setup.sh).
.PHONY: setup demo test lint dist

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/werbench demo

test: setup
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff format --check . && .venv/bin/ruff check .

# The sdist, then the wheel built from it (a wheel built straight from the tree would pack a stale build/lib).
dist: setup
	rm -rf dist && .venv/bin/python -m build --no-isolation --outdir dist .
