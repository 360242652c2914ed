# The two set-up commands of the README. Both create ./.venv and install everything first (scripts/setup.sh).
.PHONY: setup demo test lint

setup:
	bash scripts/setup.sh

demo: setup
	.venv/bin/werbench demo

test: setup
	.venv/bin/python -m pytest

lint: setup
	.venv/bin/ruff format --check . && .venv/bin/ruff check .
