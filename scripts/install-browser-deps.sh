#!/usr/bin/env bash
# Installs what the browser tests need: Debian's Chromium (at /usr/bin/chromium) and playwright-core
# and socket.io-client (node_modules of crossgate-server/src/test/browser). Idempotent and silent when everything is there.
# Needs root for apt-get (the dev and CI machines run as root) and Node.js with npm.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
browser_dir="$root/crossgate-server/src/test/browser"

if [[ ! -x /usr/bin/chromium ]]; then
  echo "install-browser-deps: installing chromium (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi

if ! command -v npm >/dev/null 2>&1; then
  echo "install-browser-deps: installing nodejs and npm (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

if [[ ! -d "$browser_dir/node_modules/playwright-core" || ! -d "$browser_dir/node_modules/socket.io-client" ]]; then
  echo "install-browser-deps: installing playwright-core and socket.io-client (npm)" >&2
  cd "$browser_dir"
  # playwright-core never downloads a browser on install; the tests use /usr/bin/chromium.
  export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
  if [[ -f package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error >/dev/null
  else
    npm install --no-audit --no-fund --loglevel=error >/dev/null
  fi
fi
