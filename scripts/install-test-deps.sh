#!/usr/bin/env bash
# Installs what the doctor's tests need besides Java and Maven: Debian's nginx at /usr/sbin/nginx (the tests
# start it themselves, on loopback, with configurations of their own). Idempotent and silent when it is there.
# The package is installed without starting the system's nginx service: a temporary policy-rc.d refuses every
# service start during the install (invoke-rc.d's documented interface, exit status 101 = "action not allowed").
# Needs root for apt-get (the dev and CI machines run as root).
set -euo pipefail

if [[ -x /usr/sbin/nginx ]]; then
  exit 0
fi

echo "install-test-deps: installing nginx (apt-get), without starting its service" >&2
policy=/usr/sbin/policy-rc.d
created_policy=""
if [[ ! -e $policy ]]; then
  printf '#!/bin/sh\n# install-test-deps.sh: no service starts while nginx is installed\nexit 101\n' >"$policy"
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
apt-get install -y -qq --no-install-recommends nginx >/dev/null

[[ -x /usr/sbin/nginx ]] || { echo "install-test-deps: /usr/sbin/nginx is still missing after installing nginx" >&2; exit 1; }
