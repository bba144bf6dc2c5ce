#!/usr/bin/env bash
# Run CI the way it runs for real: a fresh clone of this repository's HEAD in an empty temporary
# directory (nothing beside it, so a test that reads outside the checkout fails), then `bash .ci/run`.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d /tmp/regslo-clean.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT
git clone -q "$src" "$tmp/regslo"
cd "$tmp/regslo"
echo "clean clone of $(git rev-parse --short HEAD) in $tmp/regslo" >&2
start=$(date +%s)
CI=true bash .ci/run "$@"
echo "clean-clone CI passed in $(( $(date +%s) - start )) s" >&2
