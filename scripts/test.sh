#!/usr/bin/env bash
# Runs every test of the project: the same command for people (README) and for CI (.ci/run).
# Installs what the tests need on a fresh machine of this kind (Debian with Java 17 and Maven).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need() { command -v "$1" >/dev/null 2>&1; }
if ! need java || ! need mvn; then
  echo "test.sh: installing Java 17 and Maven (apt-get)" >&2
  apt-get update -qq && apt-get install -y -qq openjdk-17-jdk-headless maven >/dev/null
fi

# Chromium (Debian's) and playwright-core for the browser tests.
bash scripts/install-browser-deps.sh
# Debian's nginx for the doctor's tests against broken proxies (installed without starting its service).
bash scripts/install-test-deps.sh

# Netty leak detection is set to paranoid for every test JVM in the parent pom (surefire argLine).
exec mvn -B -ntp verify "$@"
