#!/usr/bin/env bash
# The whole test suite against real registries, Prometheus, Alertmanager and friends.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec python3 -m pytest -q -p no:cacheprovider tests "$@"
