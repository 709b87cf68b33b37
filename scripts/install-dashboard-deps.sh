#!/usr/bin/env bash
# What the dashboard needs beyond Python: node >= 20.19 with npm, its packages from the committed
# lock file (dashboard/package-lock.json), and, for the browser tests, Debian's Chromium
# (`chromium`, `chromium-driver`), installed with apt when /usr/bin/chromium is missing.
#   scripts/install-dashboard-deps.sh            packages only (make up)
#   scripts/install-dashboard-deps.sh --browser  packages and Chromium (make test)
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "the dashboard needs Node.js 20.19 or newer with npm (found: $(node --version 2>/dev/null || echo none))" >&2
  exit 1
fi
# npm ci when the lock file changed since the last install.
if [ ! -f dashboard/node_modules/.package-lock.json ] || [ dashboard/package-lock.json -nt dashboard/node_modules/.package-lock.json ]; then
  (cd dashboard && npm ci --no-audit --no-fund --loglevel=error)
fi
if [ "${1:-}" = "--browser" ] && [ ! -x /usr/bin/chromium ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver >/dev/null
fi
