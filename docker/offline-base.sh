#!/bin/sh
# Builds a stand-in for python:3.11-slim from a Debian mirror, for machines that reach a Debian
# mirror and PyPI but no container registry. Debian bookworm's own Python 3.11 goes into a venv on
# PATH, so `python` and `pip` behave as in the official image (no externally-managed guard). The
# host's local CA certificates (LOCAL_CA_DIR) are trusted inside too: such networks often reach PyPI
# through a TLS-intercepting proxy whose CA only the host knows.
# Usage: docker/offline-base.sh [TAG]   (default lexsent-python:3.11), then
#        docker build --network host --build-arg PYTHON_IMAGE=TAG ...
set -eu
TAG=${1:-lexsent-python:3.11}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DOCKER=${DOCKER:-docker}
LOCAL_CA_DIR=${LOCAL_CA_DIR:-/usr/local/share/ca-certificates}
command -v debootstrap >/dev/null || { echo "offline-base: needs debootstrap (apt-get install debootstrap)" >&2; exit 2; }
ROOT=$(mktemp -d)
trap 'rm -rf "$ROOT"' EXIT
echo "offline-base: debootstrap bookworm from $MIRROR" >&2
debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$ROOT" "$MIRROR" >&2
if ls "$LOCAL_CA_DIR"/*.crt >/dev/null 2>&1; then
  cp "$LOCAL_CA_DIR"/*.crt "$ROOT"/usr/local/share/ca-certificates/
  chroot "$ROOT" update-ca-certificates >&2
fi
chroot "$ROOT" python3 -m venv /opt/python
rm -rf "$ROOT"/var/cache/apt/archives/*.deb "$ROOT"/var/lib/apt/lists/*
tar -C "$ROOT" -c . | "$DOCKER" import \
  -c 'ENV LANG=C.UTF-8 PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  -c 'CMD ["python3"]' - "$TAG" >/dev/null
echo "offline-base: built $TAG" >&2
