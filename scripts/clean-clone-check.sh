#!/usr/bin/env bash
# Run CI the way it runs for real: a fresh clone of this repository's HEAD in an empty temporary
# directory (nothing beside it, so a test that reads outside the checkout fails), then `bash .ci/run`.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
tmp="$(mktemp -d /tmp/regslo-clean.XXXXXX)"
# .ci/run re-installs regslo editable from the clone; afterwards point the install back where it was
before="$(python3 -m pip show regslo 2>/dev/null | sed -n 's/^Editable project location: //p')"
[ -d "$before" ] || before="$src"  # not installed, or left pointing at an earlier clone that is gone
restore() {
  cd "$src"  # out of the clone before it is removed: pip fails in a deleted working directory
  rm -rf "$tmp"
  python3 -m pip install -q --disable-pip-version-check --no-deps -e "$before" >/dev/null 2>&1 || true
}
trap restore EXIT
git clone -q "$src" "$tmp/regslo"
cd "$tmp/regslo"
echo "clean clone of $(git rev-parse --short HEAD) in $tmp/regslo" >&2
start=$(date +%s)
CI=true bash .ci/run "$@"
echo "clean-clone CI passed in $(( $(date +%s) - start )) s" >&2
