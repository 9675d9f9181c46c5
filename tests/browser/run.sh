#!/usr/bin/env bash
# The browser tests: installs Debian's chromium and the pinned playwright-core
# when missing, then runs every *.test.mjs here with node's test runner
# against the spoord named by $SPOORD (default: build-asan/spoord).
set -euo pipefail
cd "$(dirname "$0")"
missing=""
command -v chromium >/dev/null 2>&1 || missing="$missing chromium"
command -v node >/dev/null 2>&1 || missing="$missing nodejs"
command -v npm >/dev/null 2>&1 || missing="$missing npm"
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; else SUDO="sudo"; fi
  echo "installing:$missing"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $missing >/dev/null
fi
# The exact versions of package-lock.json, into tests/browser/node_modules.
npm ci --no-audit --no-fund --loglevel=error
exec node --test --test-concurrency=1 --test-reporter=spec ./*.test.mjs
