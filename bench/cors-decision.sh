#!/usr/bin/env bash
# CORS decision microbenchmarks: Crossgate's CorsPolicy against Spring's CorsConfiguration (JMH).
#
#   bench/cors-decision.sh [extra JMH options...]
#
# Builds bench/jmh/target/benchmarks.jar when it is missing or older than the sources, runs
# CorsDecisionBenchmark with the GC profiler (about 4 minutes: 12 benchmarks x 8 s, one fork each),
# writes the raw results to bench/results/cors-decision.json and a table (ns/op and B/op, Crossgate
# against Spring) to bench/results/cors-decision.md, and prints the table.
#
# Extra arguments go to JMH as they are, for example a quick smoke run:
#   bench/cors-decision.sh -wi 1 -i 1 -w 200ms -r 200ms
# or only some cases (JMH runs what matches any of the regexps, so narrow with -e):
#   bench/cors-decision.sh -e 'Thousand'
# Run it on an otherwise idle machine.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

jar=bench/jmh/target/benchmarks.jar
json=bench/results/cors-decision.json
md=bench/results/cors-decision.md
log=bench/results/tmp/cors-decision.log

command -v java >/dev/null || { echo "cors-decision: java is not on the PATH" >&2; exit 1; }
command -v python3 >/dev/null || { echo "cors-decision: python3 is needed to turn the JMH results into a table" >&2; exit 1; }

stale=
if [[ ! -f $jar ]]; then
  stale=yes
elif [[ -n "$(find pom.xml crossgate-cors/pom.xml crossgate-cors/src/main bench/jmh/pom.xml bench/jmh/src \
               -type f -newer "$jar" -print -quit)" ]]; then
  stale=yes
fi
if [[ -n $stale ]]; then
  echo "cors-decision: building $jar" >&2
  mvn -q -B -DskipTests -pl bench/jmh -am package
fi

mkdir -p bench/results bench/results/tmp
cmd=(java -jar "$jar" CorsDecisionBenchmark -prof gc -rf json -rff "$json" "$@")
printf -v cmdline '%q ' "${cmd[@]}"
cmdline="${cmdline% }"
echo "cors-decision: $cmdline" >&2
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
"${cmd[@]}" 2>&1 | tee "$log"

java_version="$(java -version 2>&1)"
cpu="$(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1 || true)"
python3 bench/cors_decision_table.py \
  --json "$json" --md "$md" \
  --date "$started" \
  --nproc "$(nproc)" \
  --cpu "${cpu:-unknown}" \
  --os "$(uname -srm)" \
  --java-version "$java_version" \
  --command "$cmdline"
