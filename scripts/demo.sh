#!/usr/bin/env bash
# Install what is missing, then start the demo stack on 127.0.0.1 (Ctrl-C stops everything).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install.sh
exec python3 -m regslo demo "$@"
