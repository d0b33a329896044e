# Recipes of the project; `./run <recipe>` works where just and uv are not installed yet.

set shell := ["bash", "-euo", "pipefail", "-c"]
export UV_PYTHON_DOWNLOADS := "never"

# list the recipes
default:
    @just --list

# install the locked dependencies: Python's into .venv, the web page's (npm ci) into node_modules
setup:
    uv sync --locked --quiet
    scripts/web-assets

# start RabbitMQ, MariaDB and FerretDB (installing them on first use); idempotent
services:
    scripts/services up

# the converter's system libraries: Debian's libmp3lame0 (ffmpeg's MP3 encoder) and ffmpeg (tests and benchmarks check with it)
media:
    scripts/services packages libmp3lame0 ffmpeg

# the main job: services and the five processes up, a sample video converted end to end
demo: setup services media
    uv run --locked python scripts/demo.py

# install Debian's Chromium for the browser tests (once)
browser:
    scripts/browser

# run the tests against the real services (extra arguments go to pytest)
test *args: setup services media browser
    uv run --locked pytest {{ args }}

# start the five services in the background (development settings)
up: setup services media
    uv run --locked python -m common.stack up

# stop the five services
down:
    uv run --locked python -m common.stack down

# which services answer
status:
    uv run --locked python -m common.stack status
    scripts/services status

# bring a store written by an older version to this one's layout (stop the services first; safe to repeat)
migrate: setup
    uv run --locked python -m projections migrate

# regenerate asyncapi.yaml from the code
asyncapi: setup
    uv run --locked python -m common.asyncapi write

# fail when asyncapi.yaml is not what the code generates
asyncapi-check: setup
    uv run --locked python -m common.asyncapi check

# ruff and mypy
lint: setup
    uv run --locked ruff check .
    uv run --locked ruff format --check .
    uv run --locked mypy .

# benchmark the converter against ffmpeg (a matrix of signals) and the MoviePy design; --quick for development (inputs made once under ~/.cache/vidmp3/bench; results in bench/results/)
bench-converter *args: setup services media
    uv run --locked python -m bench.converter {{ args }}

# the instructions the converter's command line executes against ffmpeg's, per row of the same matrix, counted by valgrind (the same on every run, unlike CPU seconds on a shared machine)
bench-instructions *args: setup media
    scripts/services packages valgrind
    uv run --locked python -m bench.instructions {{ args }}

# a 1 GB video up (multipart and tus) and its MP3 down through the gateway; its peak RSS must stay under 150 MB
bench-gateway: setup services
    uv run --locked python bench/gateway_upload.py

# the store filled to 0, 10k, 50k and 100k finished jobs (10 GB): upload, status, list, download, delete, idle CPU at each size (results in bench/results/)
bench-store *args: setup services
    uv run --locked python bench/store.py {{ args }}

# 1, 2, 3 and 4 converter processes on one broker, the same batch of jobs each: jobs/minute and latency per worker count (results in bench/results/)
bench-scale *args: setup services media
    uv run --locked python bench/scale_out.py {{ args }}
