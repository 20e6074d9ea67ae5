#!/usr/bin/env bash
# Installs what the tests need besides Java, Maven and the browser (scripts/install-browser-deps.sh):
#   - Debian's nginx at /usr/sbin/nginx (the doctor's tests start it themselves, on loopback, with configurations
#     of their own);
#   - Debian's redis-server (and redis-sentinel) at /usr/bin (the cluster tests start their own on free loopback
#     ports, with no persistence);
#   - the Node.js peers of the cluster and proxy tests in test-peers/node_modules (socket.io, the official Redis
#     adapters and emitter, socket.io-client), from test-peers/package-lock.json.
# Idempotent and silent when everything is there. The packages are installed without starting their system
# services: a temporary policy-rc.d refuses every service start during the install (invoke-rc.d's documented
# interface, exit status 101 = "action not allowed").
# Needs root for apt-get (the dev and CI machines run as root), and Node.js with npm (installed here when missing).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

missing=()
[[ -x /usr/sbin/nginx ]] || missing+=(nginx)
[[ -x /usr/bin/redis-server ]] || missing+=(redis-server)
[[ -x /usr/bin/redis-sentinel ]] || missing+=(redis-sentinel)
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)

if (( ${#missing[@]} > 0 )); then
  echo "install-test-deps: installing ${missing[*]} (apt-get), without starting their services" >&2
  policy=/usr/sbin/policy-rc.d
  created_policy=""
  if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# install-test-deps.sh: no service starts while test dependencies are installed\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    created_policy=1
  fi
  remove_policy() {
    if [[ -n $created_policy ]]; then
      rm -f "$policy"
    fi
  }
  trap remove_policy EXIT
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

[[ -x /usr/sbin/nginx ]] || { echo "install-test-deps: /usr/sbin/nginx is still missing after installing nginx" >&2; exit 1; }
[[ -x /usr/bin/redis-server ]] || { echo "install-test-deps: /usr/bin/redis-server is still missing after installing redis-server" >&2; exit 1; }

peers="$root/test-peers"
if [[ ! -f "$peers/node_modules/.crossgate-installed" || "$peers/package-lock.json" -nt "$peers/node_modules/.crossgate-installed" ]]; then
  echo "install-test-deps: installing the Node.js test peers (npm ci in test-peers)" >&2
  (cd "$peers" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  touch "$peers/node_modules/.crossgate-installed"
fi
