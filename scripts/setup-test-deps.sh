#!/usr/bin/env bash
# Installs everything the real-client integration tests (tests/clients) need.
# Idempotent: safe to run repeatedly; does nothing that is already done.
#   - OpenSSL headers (libssl-dev, pkg-config) for librdkafka's SSL support
#   - kcat (Debian package) via apt
#   - promtool (Debian's prometheus package), to check the shipped alert rules
#   - chromium (Debian's package), to check the bench's HTML report in a real headless browser
#   - Go and Debian's Sarama 1.22 (golang-go, golang-github-shopify-sarama-dev) for tests/sarama
#   - a Python venv at ${WEFT_VENV:-$HOME/.cache/weft-venv} with pinned clients
#   - s3s-fs (an S3-compatible server over a directory, from crates.io) for the S3 tests
#   - PostgreSQL (Debian's postgresql package) for the PostgreSQL metastore tests; its initdb, pg_ctl and
#     postgres are linked into /usr/local/bin (Debian keeps them off PATH)
#   - rustup components clippy + rustfmt (best effort)
set -euo pipefail

WEFT_VENV="${WEFT_VENV:-$HOME/.cache/weft-venv}"

# Pinned client versions. Bump deliberately.
PY_PKGS=(
  "confluent-kafka[avro,json,protobuf,schemaregistry]==2.16.1"
  "kafka-python==3.0.12"
  "pytest==9.2.0"
  "pytest-timeout==2.4.0"
  # compression codecs used by kafka-python (gzip is stdlib)
  "cramjam==2.14.0"
  "python-snappy==0.7.3"
  "lz4==4.4.5"
  "zstandard==0.25.0"
)

log() { printf '[setup-test-deps] %s\n' "$*" >&2; }

SUDO=""
if [ "$(id -u)" != "0" ] && command -v sudo >/dev/null 2>&1; then
  SUDO="sudo"
fi

APT_UPDATED=0
apt_install() {
  if ! command -v apt-get >/dev/null 2>&1; then
    log "apt-get not available; cannot install: $*"
    return 1
  fi
  if [ "$APT_UPDATED" = 0 ]; then
    log "apt-get update"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    APT_UPDATED=1
  fi
  log "apt-get install $*"
  local out
  out="$(mktemp)"
  if ! $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >"$out" 2>&1; then
    cat "$out" >&2
    rm -f "$out"
    return 1
  fi
  rm -f "$out"
}

# ---- OpenSSL headers: librdkafka is built with SSL (the rdkafka crate's `ssl` feature) -----------------
if ! pkg-config --exists openssl 2>/dev/null; then
  apt_install libssl-dev pkg-config
fi

# ---- kcat -----------------------------------------------------------------
if ! command -v kcat >/dev/null 2>&1; then
  apt_install kcat
fi
kcat -V >/dev/null 2>&1 || { log "kcat installed but 'kcat -V' failed"; exit 1; }

# ---- promtool ---------------------------------------------------------------
if ! command -v promtool >/dev/null 2>&1; then
  apt_install prometheus
fi
promtool --version >/dev/null 2>&1 || { log "promtool installed but 'promtool --version' failed"; exit 1; }

# ---- chromium (headless check of the bench report) ---------------------------
if ! command -v chromium >/dev/null 2>&1; then
  apt_install chromium
fi
chromium --version >/dev/null 2>&1 || { log "chromium installed but 'chromium --version' failed"; exit 1; }

# ---- Go + Sarama (tests/sarama, built with GOPATH=/usr/share/gocode GO111MODULE=off) ----
SARAMA_SRC=/usr/share/gocode/src/github.com/Shopify/sarama
if ! command -v go >/dev/null 2>&1 || [ ! -d "$SARAMA_SRC" ]; then
  apt_install golang-go golang-github-shopify-sarama-dev
fi
go version >/dev/null 2>&1 || { log "go installed but 'go version' failed"; exit 1; }
[ -d "$SARAMA_SRC" ] || { log "sarama sources missing at $SARAMA_SRC"; exit 1; }

# ---- PostgreSQL: the server binaries the metastore tests start (scripts/postgres-test-server.sh) ----
if ! command -v initdb >/dev/null 2>&1; then
  if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
    apt_install postgresql
  fi
  pgbin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"
  for tool in initdb pg_ctl postgres; do
    $SUDO ln -sf "$pgbin/$tool" "/usr/local/bin/$tool"
  done
fi
initdb --version >/dev/null 2>&1 || { log "initdb installed but 'initdb --version' failed"; exit 1; }
command -v psql >/dev/null 2>&1 || apt_install postgresql-client

# ---- s3s-fs: a real S3 server (SigV4, ranges, multipart) serving a directory, for tests/clients/test_s3.py ----
S3S_FS_VERSION=0.14.1 # 0.17 needs a newer compiler
if ! command -v s3s-fs >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/s3s-fs" ]; then
  log "cargo install s3s-fs $S3S_FS_VERSION"
  CARGO_TARGET_DIR="${S3S_TARGET_DIR:-$HOME/.cache/s3s-target}" \
    cargo install --quiet s3s-fs --version "$S3S_FS_VERSION" --features binary --locked
fi
"${HOME}/.cargo/bin/s3s-fs" --help >/dev/null 2>&1 || command -v s3s-fs >/dev/null 2>&1 || { log "s3s-fs not runnable"; exit 1; }

# ---- python venv ----------------------------------------------------------
PYTHON="${PYTHON:-}"
if [ -z "$PYTHON" ]; then
  if command -v python3 >/dev/null 2>&1; then
    PYTHON=python3
  else
    apt_install python3 python3-venv python3-pip
    PYTHON=python3
  fi
fi

venv_ok() {
  [ -x "$WEFT_VENV/bin/python" ] && "$WEFT_VENV/bin/python" -c 'import sys' >/dev/null 2>&1
}

if ! venv_ok; then
  log "creating venv at $WEFT_VENV"
  rm -rf "$WEFT_VENV"
  mkdir -p "$(dirname "$WEFT_VENV")"
  if ! "$PYTHON" -m venv "$WEFT_VENV" >/dev/null 2>&1; then
    # Debian's python3 ships venv/ensurepip separately.
    rm -rf "$WEFT_VENV"
    apt_install python3-venv python3-pip
    "$PYTHON" -m venv "$WEFT_VENV"
  fi
fi

VPY="$WEFT_VENV/bin/python"
STAMP="$WEFT_VENV/.weft-deps-stamp"
WANT="$(printf '%s\n' "${PY_PKGS[@]}")"
if [ ! -f "$STAMP" ] || [ "$(cat "$STAMP")" != "$WANT" ] \
   || ! "$VPY" -c 'import confluent_kafka, kafka, pytest, pytest_timeout, cramjam, lz4, zstandard, google.protobuf, jsonschema' >/dev/null 2>&1; then
  log "pip install ${PY_PKGS[*]}"
  "$VPY" -m pip install -q --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
  "$VPY" -m pip install -q --disable-pip-version-check "${PY_PKGS[@]}"
  printf '%s' "$WANT" >"$STAMP"
fi
"$VPY" -c 'import confluent_kafka, kafka, pytest, pytest_timeout' \
  || { log "python client imports failed"; exit 1; }

# ---- rust components (best effort) ------------------------------------------
if command -v rustup >/dev/null 2>&1; then
  comps="$(rustup component list --installed 2>/dev/null || true)"
  for c in clippy rustfmt; do
    if ! grep -q "^$c" <<<"$comps"; then
      log "rustup component add $c"
      rustup component add "$c" >/dev/null 2>&1 || log "rustup component add $c failed (ignored)"
    fi
  done
fi

log "ok: venv=$WEFT_VENV kcat=$(command -v kcat) promtool=$(command -v promtool) chromium=$(command -v chromium) go=$(command -v go)"
