#!/usr/bin/env bash
# Server memory per idle Socket.IO connection: Crossgate's embedded Socket.IO server (crossgate-realtime)
# against the Node.js reference server (npm socket.io 4.8.1), in the same run, with the same client harness
# (the official socket.io-client in Node, WebSocket transport, idle after connecting).
#
#   bench/socketio-memory.sh
#
# For each server: start it alone on CPU 0 (taskset), open STEP clients at a time (the client process on
# CPU 1) up to TOTAL; after each step wait SETTLE seconds, run a garbage collection in the server (Node:
# global.gc() via GET /gc with --expose-gc; the JVM: jcmd GC.run), wait 2 s and read its RSS (VmRSS).
# The figure is the marginal RSS per connection between the last two steps (5,000 -> 10,000 by default),
# so fixed costs (JIT, code, pools) do not count. Writes bench/results/socketio-memory.md and a raw file.
# RUNS rounds (each round measures both servers, one after the other); the table shows every round and the
# median of the marginal figures. Knobs: RUNS=3 TOTAL=10000 STEP=5000 SETTLE=5 SUT_CPU=0 LOAD_CPU=1, CROSSGATE_JAVA_OPTS="..." (JVM options for Crossgate's
# server, after those of jvm.options; LAUNCHER_OPTIONS=0 drops jvm.options), RESULTS_NAME=socketio-memory. Installs nothing with apt; needs node/npm
# (scripts/install-browser-deps.sh installs them) and npm ci's its own node_modules. Loopback only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
TOTAL="${TOTAL:-10000}"
RUNS="${RUNS:-3}"
STEP="${STEP:-5000}"
SETTLE="${SETTLE:-5}"
SUT_CPU="${SUT_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
# The launcher's JVM options (jvm.options), as ./crossgate runs; LAUNCHER_OPTIONS=0 leaves the JVM its own choices.
LAUNCHER_JAVA_OPTS=""
if [[ "${LAUNCHER_OPTIONS:-1}" != 0 ]]; then LAUNCHER_JAVA_OPTS="$(grep -v -e '^#' -e '^[[:space:]]*$' jvm.options | tr '\n' ' ')"; fi
JAVA_OPTS_EXTRA="${LAUNCHER_JAVA_OPTS}${CROSSGATE_JAVA_OPTS:-}"
NAME="${RESULTS_NAME:-socketio-memory}"
P_NODE=18301
P_CG=18302
log() { echo "socketio-memory: $*" >&2; }
die() { log "$*"; exit 1; }

for t in node npm java jcmd taskset; do command -v "$t" >/dev/null || die "$t is not on the PATH"; done
(( $(ulimit -n) >= TOTAL + 500 )) || die "the open-file limit $(ulimit -n) is below TOTAL + 500"
for p in $P_NODE $P_CG; do [[ -z "$(ss -Hltn "sport = :$p")" ]] || die "port $p is in use"; done

log "building crossgate-bench-ws (with crossgate-realtime)"
mvn -q -B -ntp -DskipTests -pl bench/ws -am package >&2 || die "build failed"
if [[ ! -d bench/socketio/node_modules/socket.io ]]; then
  log "installing the Node.js peer (npm ci)"
  (cd bench/socketio && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

tmp="$(mktemp -d /tmp/socketio-memory.XXXXXX)"
cp bench/ws/target/crossgate-bench-ws.jar "$tmp/bench.jar"
pids=()
cleanup() {
  local rc=$?
  set +e
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rss_of() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
raw="bench/results/$NAME-raw.txt"
mkdir -p bench/results
{ echo "# bench/socketio-memory.sh raw output, $(date -u +%Y-%m-%dT%H:%M:%SZ)"; echo "# $(node --version), $(java -version 2>&1 | head -n 1)"; } >"$raw"

declare -A RSS
measure() {  # name port command...  (stores RSS[name,clients] of this round)
  local name=$1 port=$2; shift 2
  log "$name: starting"
  taskset -c "$SUT_CPU" "$@" >"$tmp/$name-$round.out" 2>"$tmp/$name-$round.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 300); do grep -q READY "$tmp/$name-$round.out" 2>/dev/null && break; kill -0 "$pid" || die "$name exited: $(cat "$tmp/$name-$round.err")"; sleep 0.1; done
  grep -q READY "$tmp/$name-$round.out" || die "$name did not start in 30 s"
  gc() { if [[ $name == node ]]; then curl -s -o /dev/null "http://127.0.0.1:$port/gc"; else jcmd "$pid" GC.run >/dev/null; fi; sleep 2; }
  sleep "$SETTLE"; gc
  RSS[$name,0]="$(rss_of "$pid")"
  log "$name: rss with 0 clients ${RSS[$name,0]} KiB"
  mkdir -p "$tmp/$name-$round-sync"
  taskset -c "$LOAD_CPU" node bench/socketio/clients.mjs "http://127.0.0.1:$port" "$TOTAL" "$STEP" "$tmp/$name-$round-sync" >"$tmp/$name-$round-clients.out" 2>&1 &
  local cpid=$!
  pids+=("$cpid")
  local done_steps=0
  while (( done_steps < TOTAL )); do
    local next=$(( done_steps + STEP > TOTAL ? TOTAL : done_steps + STEP ))
    for _ in $(seq 1200); do grep -q "^STEP $next " "$tmp/$name-$round-clients.out" && break; kill -0 "$cpid" || die "the clients exited: $(tail -n 5 "$tmp/$name-$round-clients.out")"; sleep 0.5; done
    grep -q "^STEP $next " "$tmp/$name-$round-clients.out" || die "$name: $next clients did not connect in 10 minutes"
    grep "^STEP $next " "$tmp/$name-$round-clients.out" | grep -q "failed=0" || die "$name: failed connections: $(grep "^STEP $next " "$tmp/$name-$round-clients.out")"
    sleep "$SETTLE"; gc
    RSS[$name,$next]="$(rss_of "$pid")"
    log "$name: rss with $next clients ${RSS[$name,$next]} KiB"
    touch "$tmp/$name-$round-sync/go-$next"
    done_steps=$next
  done
  touch "$tmp/$name-$round-sync/stop"
  wait "$cpid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  { echo; echo "===== round $round, $name: $*"; cat "$tmp/$name-$round-clients.out"; echo "--- stderr"; tail -n 20 "$tmp/$name-$round.err"; } >>"$raw"
}

prev=$(( TOTAL - STEP ))
declare -A PER ALL ROW
for round in $(seq "$RUNS"); do
  r=$round
  measure node $P_NODE node --expose-gc bench/socketio/node-server.mjs $P_NODE
  # shellcheck disable=SC2086
  measure crossgate $P_CG java $JAVA_OPTS_EXTRA -jar "$tmp/bench.jar" socketio-server --port $P_CG
  for n in node crossgate; do
    PER[$n,$r]="$(awk -v a="${RSS[$n,$TOTAL]}" -v b="${RSS[$n,$prev]}" -v s="$STEP" 'BEGIN { printf "%.2f", (a - b) / s }')"
    ALL[$n,$r]="$(awk -v a="${RSS[$n,$TOTAL]}" -v b="${RSS[$n,0]}" -v s="$TOTAL" 'BEGIN { printf "%.2f", (a - b) / s }')"
    ROW[$n]+="${ROW[$n]:+ / }${RSS[$n,0]}, ${RSS[$n,$prev]}, ${RSS[$n,$TOTAL]} (${PER[$n,$r]})"
  done
  log "round $r: node ${PER[node,$r]} KiB, crossgate ${PER[crossgate,$r]} KiB per connection"
done
median() { for r in $(seq "$RUNS"); do echo "${PER[$1,$r]}"; done | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
median_all() { for r in $(seq "$RUNS"); do echo "${ALL[$1,$r]}"; done | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
node_per="$(median node)"; cg_per="$(median crossgate)"
node_all="$(median_all node)"; cg_all="$(median_all crossgate)"
ratio="$(awk -v a="$cg_per" -v b="$node_per" 'BEGIN { printf "%.2f", a / b }')"
met="$(awk -v a="$cg_per" 'BEGIN { print (a <= 5 ? "met" : "**not met**") }')"
md="bench/results/$NAME.md"
{
  echo "# Socket.IO server memory per idle connection: Crossgate against Node.js"
  echo
  echo "Idle WebSocket clients (official \`socket.io-client\` 4.8.1 in Node, on CPU $LOAD_CPU) connected to each server"
  echo "(alone on CPU $SUT_CPU) in steps of $STEP up to $TOTAL; after each step a ${SETTLE} s pause, a garbage collection"
  echo "in the server and its RSS. Marginal = (RSS at $TOTAL - RSS at $prev) / $STEP. $RUNS rounds of \`bench/socketio-memory.sh\`."
  echo
  echo "| server | marginal KiB per connection (median of $RUNS) | per round: RSS KiB at 0, $prev, $TOTAL clients (marginal) |"
  echo "| --- | ---: | --- |"
  echo "| Node.js socket.io 4.8.1 ($(node --version)) | $node_per | ${ROW[node]} |"
  echo "| Crossgate (crossgate-realtime, JVM ${JAVA_OPTS_EXTRA:-defaults}) | $cg_per | ${ROW[crossgate]} |"
  echo
  echo "Crossgate / Node.js: **${ratio}x**. Target: at most 5 KiB per connection: $met ($cg_per KiB)."
  echo
  echo "The marginal figure moves between rounds as each runtime grows and shrinks its heap. Counted from no client at"
  echo "all, (RSS at $TOTAL - RSS at 0) / $TOTAL, which includes what the first connections warm up (code, buffer pools):"
  echo "Node.js $node_all KiB, Crossgate $cg_all KiB per connection (medians)."
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); machine: nproc $(nproc), $(uname -srm)"
  echo "- Crossgate: commit $(git rev-parse --short HEAD); java: $(java -version 2>&1 | head -n 1); $(grep -h -m1 '^JVM ' "$tmp"/crossgate-*.out 2>/dev/null | head -n 1)"
  echo "- raw output: \`$raw\`"
} >"$md"
cat "$md"
