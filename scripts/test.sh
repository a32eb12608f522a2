#!/usr/bin/env bash
# The one test command: a private PostgreSQL, formatting, lints, Rust tests, then the real-client
# integration suite (tests/clients) against the release `weft` binary.
# Extra arguments are passed to pytest, e.g.  scripts/test.sh -k produce
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/weft-target}"
export WEFT_VENV="${WEFT_VENV:-$HOME/.cache/weft-venv}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

section() { printf '\n==================== %s ====================\n' "$*"; }

section "setup test dependencies"
scripts/setup-test-deps.sh

section "PostgreSQL for the tests"
# One private server (127.0.0.1, a free port) for the whole run; each test makes its own database on it.
PG_DIR="$(mktemp -d /tmp/weft-test-pg.XXXXXX)"
trap 'scripts/postgres-test-server.sh stop "$PG_DIR" >/dev/null 2>&1 || true; rm -rf "$PG_DIR"' EXIT
WEFT_TEST_POSTGRES_URL="$(scripts/postgres-test-server.sh start "$PG_DIR")"
export WEFT_TEST_POSTGRES_URL
echo "WEFT_TEST_POSTGRES_URL=$WEFT_TEST_POSTGRES_URL"
# setup-test-deps.sh installed chromium: the bench report's page must really render in it, not skip.
export WEFT_REQUIRE_BROWSER=1

section "cargo fmt --check"
cargo fmt --all -- --check

section "cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings

section "cargo build --release -p weft"
cargo build --release -p weft

section "rust tests"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-tests=warn
  cargo test --workspace --doc
else
  cargo test --workspace
fi

section "client integration tests (pytest tests/clients)"
export WEFT_BIN="$CARGO_TARGET_DIR/release/weft"
echo "WEFT_BIN=$WEFT_BIN"
kcat -V 2>&1 | sed -n '4p'
"$WEFT_VENV/bin/python" -c 'import confluent_kafka, kafka; print("confluent-kafka", confluent_kafka.version()[0], "librdkafka", confluent_kafka.libversion()[0], "kafka-python", kafka.__version__)'
"$WEFT_VENV/bin/python" -m pytest -q --timeout 120 tests/clients "$@"
