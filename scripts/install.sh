#!/usr/bin/env bash
# Install what regslo's demo and tests need on a fresh Debian 12 machine (as root), skipping what is there.
# Debian packages: the real servers the tests drive. Python: regslo itself with its test extras.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(docker-registry prometheus prometheus-alertmanager skopeo mtail nginx apache2-utils iproute2 curl
      docker-compose chromium procps)
BINS=(docker-registry prometheus prometheus-alertmanager skopeo mtail nginx htpasswd ip curl
      docker-compose chromium pkill)
missing=0
for b in "${BINS[@]}"; do command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || missing=1; done
if [ "$missing" = 1 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  echo "installing Debian packages: ${DEBS[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${DEBS[@]}" >/dev/null
fi
# Debian's packages start no service by themselves here (no systemd); make sure none lingers if they did.
if ! python3 -c 'import regslo, pytest, hypothesis, jwt, jsonschema, bcrypt' >/dev/null 2>&1 || [ "${REGSLO_REINSTALL:-}" = 1 ] || [ -n "${CI:-}" ]; then
  echo "installing regslo (pip install -e .[test])" >&2
  python3 -m pip install -q --disable-pip-version-check -e '.[test]' 2>&1 | grep -v -e '^WARNING: Location' -e 'Running pip as the' || true
fi
