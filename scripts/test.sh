#!/usr/bin/env bash
# The README's test command: everything the tests need, then every check CI runs.
# Installs Debian's Chromium for the report's browser tests when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
  sudo=''
  [ "$(id -u)" -eq 0 ] || sudo='sudo'
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq chromium fonts-dejavu-core >/dev/null
fi

npm run typecheck
npm run lint
npx vitest run
npm run test:faults
