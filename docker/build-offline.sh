#!/bin/sh
# `docker build` for a machine with PyPI and a Debian mirror but no container registry: builds the
# stand-in base image (offline-base.sh) when it is missing, serves WHEELS_DIR (local wheels, e.g. a
# CPU-only torch) on loopback port WHEELS_PORT as the builder's pip find-links, and builds with host
# networking so the build containers reach both. The port is fixed, not picked, because a changed
# find-links URL is a changed build argument and would void the builder's layer cache.
# Usage: [WHEELS_DIR=/opt/wheels] docker/build-offline.sh [IMAGE_TAG]   (default lexsent)
set -eu
TAG=${1:-lexsent}
BASE=${PYTHON_IMAGE:-lexsent-python:3.11}
DOCKER=${DOCKER:-docker}
HERE=$(cd "$(dirname "$0")" && pwd)
"$DOCKER" image inspect "$BASE" >/dev/null 2>&1 || DOCKER=$DOCKER sh "$HERE/offline-base.sh" "$BASE"
set -- --network host --build-arg PYTHON_IMAGE="$BASE"
if [ -n "${WHEELS_DIR:-}" ]; then
  PORT=${WHEELS_PORT:-8765}
  python3 -m http.server "$PORT" --bind 127.0.0.1 --directory "$WHEELS_DIR" >/dev/null 2>&1 &
  SERVER=$!
  trap 'kill $SERVER' EXIT
  set -- "$@" --build-arg PIP_FIND_LINKS="http://127.0.0.1:$PORT/"
fi
"$DOCKER" build "$@" -t "$TAG" "$HERE/.."
