#!/usr/bin/env bash
# Socket.IO broadcast throughput across two nodes through Redis: messages per second delivered when broadcasting to
# CLIENTS clients spread over two nodes, Crossgate's embedded Socket.IO server with its Redis adapter
# (dev.crossgate.realtime.redis.RedisAdapter, classic mode) against the Node.js reference (npm socket.io 4.8.1 with
# @socket.io/redis-adapter 8.3.0, classic createAdapter), in the same run, on the same Redis, with the same client
# harness (the official socket.io-client 4.8.1 in Node, WebSocket transport). Issue 12, "Must show".
#
#   bench/socketio-cluster.sh
#
# One redis-server for the whole run (/usr/bin/redis-server, 127.0.0.1, a free port, no persistence), stopped by its
# PID at the end. For each server kind: start node A and node B (bench/socketio/broadcast-server.mjs PORT REDIS_URL,
# or `crossgate-bench-ws.jar socketio-broadcast-server --port N --redis REDIS_URL`), both on CPU SUT_CPU (taskset);
# wait until both have subscribed to the adapter's request channel (PUBSUB NUMSUB socket.io-request#/# = 2); then the
# harness (bench/socketio/broadcast-clients.mjs with both URLs) on CPU LOAD_CPU opens CLIENTS receivers on "/",
# receiver k on node k mod 2 (half on each node), and one driver on node A's "/driver". The driver emits "burst"
# {n: BURST, size: SIZE}; node A broadcasts BURST events "m" (io.emit / Namespace.emit, a string of SIZE
# characters): to its own receivers directly, to node B's through Redis (one PUBLISH per broadcast on
# socket.io#/#, node B's pattern subscription delivers it). Closed loop as in bench/socketio-broadcast.sh: WINDOW
# bursts in flight, the next asked for only when a whole burst has reached every receiver on both nodes. After
# WARMUP seconds it measures for DURATION seconds: messages delivered (summed over all receivers) per second, the CPU
# time (utime + stime from /proc/PID/stat, all threads) of each node, of Redis and of the harness, and the busy time
# of both CPUs in all (/proc/stat). Then it stops asking, waits for the bursts on their way and fails unless every
# receiver got every message.
#
# CPUs (this machine has 2): both server nodes share CPU SUT_CPU, so the servers' side has one CPU as on one node
# today and the per-message CPU cost is comparable with bench/results/socketio-broadcast.md; Redis runs on CPU
# REDIS_CPU (default LOAD_CPU, beside the harness) because Redis is infrastructure used by both server kinds alike,
# not part of either server, and its CPU is reported on its own. As in the single-node bench the one-process harness
# may saturate its CPU before the servers do; then the verdict on the target (Crossgate at least 2x Node.js) is on
# the servers' CPU seconds per million delivered messages (the sum over both nodes), else on messages/s.
# RUNS rounds (each round measures both kinds, Node.js first); the table shows the median and every round. Writes
# bench/results/socketio-cluster.md and a raw file. Before each measurement it waits (QUIET_WAIT seconds at most)
# until both CPUs are at most 10% busy, and flags measurements where the CPUs were much busier than the measured
# processes.
# Knobs: RUNS=3 CLIENTS=2000 SIZE=64 BURST=10 WINDOW=4 WARMUP=10 DURATION=15 QUIET_WAIT=60 (seconds) SUT_CPU=0
# LOAD_CPU=1 REDIS_CPU=LOAD_CPU, CROSSGATE_JAVA_OPTS="..." (JVM options for Crossgate's nodes, after those of
# jvm.options; LAUNCHER_OPTIONS=0 drops jvm.options), RESULTS_NAME=socketio-cluster. Needs node/npm, java, Maven
# (offline), /usr/bin/redis-server and redis-cli; npm ci's bench/socketio's node_modules when they lack the Redis
# adapter. Loopback only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
RUNS="${RUNS:-3}"
CLIENTS="${CLIENTS:-2000}"
SIZE="${SIZE:-64}"
BURST="${BURST:-10}"
WINDOW="${WINDOW:-4}"
WARMUP="${WARMUP:-10}"
DURATION="${DURATION:-15}"
SUT_CPU="${SUT_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
REDIS_CPU="${REDIS_CPU:-$LOAD_CPU}"
QUIET_WAIT="${QUIET_WAIT:-60}"
LAUNCHER_JAVA_OPTS=""
if [[ "${LAUNCHER_OPTIONS:-1}" != 0 ]]; then LAUNCHER_JAVA_OPTS="$(grep -v -e '^#' -e '^[[:space:]]*$' jvm.options | tr '\n' ' ')"; fi
JAVA_OPTS_EXTRA="${LAUNCHER_JAVA_OPTS}${CROSSGATE_JAVA_OPTS:-}"
NAME="${RESULTS_NAME:-socketio-cluster}"
REDIS_SERVER=/usr/bin/redis-server
log() { echo "socketio-cluster: $*" >&2; }
die() { log "$*"; exit 1; }

for t in node npm java mvn taskset getconf ss redis-cli; do command -v "$t" >/dev/null || die "$t is not on the PATH"; done
[[ -x $REDIS_SERVER ]] || die "$REDIS_SERVER is missing (Debian's redis-server package)"
for v in RUNS CLIENTS SIZE BURST WINDOW WARMUP DURATION SUT_CPU LOAD_CPU REDIS_CPU QUIET_WAIT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v=${!v} is not a whole number"
done
(( RUNS >= 1 && CLIENTS >= 2 && BURST >= 1 && BURST <= 10000 && WINDOW >= 1 && DURATION >= 1 && SIZE <= 1000000 )) \
  || die "expected RUNS, WINDOW, DURATION >= 1, CLIENTS >= 2, BURST in [1, 10000], SIZE <= 1000000"
CLK_TCK="$(getconf CLK_TCK)"
if (( $(ulimit -n) < CLIENTS + 500 )); then
  ulimit -n $(( CLIENTS + 500 )) 2>/dev/null || die "the open-file limit $(ulimit -n) is below CLIENTS + 500 and cannot be raised"
fi
free_port() {  # a port nobody listens on now (the kernel's pick on 127.0.0.1)
  node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })'
}

log "building crossgate-bench-ws (with crossgate-realtime)"
mvn -o -q -B -ntp -DskipTests -pl bench/ws -am package >&2 || die "build failed"
commit="$(git rev-parse --short HEAD)"
[[ -z "$(git --no-optional-locks status --porcelain -- crossgate-realtime crossgate-cors bench/ws)" ]] \
  || commit+=" plus uncommitted changes in crossgate-realtime, crossgate-cors or bench/ws"
if [[ ! -d bench/socketio/node_modules/@socket.io/redis-adapter || ! -d bench/socketio/node_modules/redis ]]; then
  log "installing the Node.js peers (npm ci)"
  (cd bench/socketio && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

tmp="$(mktemp -d /tmp/socketio-cluster.XXXXXX)"
cp bench/ws/target/crossgate-bench-ws.jar "$tmp/bench.jar"
pids=()      # every process started here (servers, harnesses), stopped by PID
redis_pid=""
cleanup() {
  local rc=$?
  set +e
  for p in "${pids[@]}" $redis_pid; do kill -TERM "$p" 2>/dev/null; done
  for p in "${pids[@]}" $redis_pid; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null
    wait "$p" 2>/dev/null
  done
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Redis: loopback, a free port, no RDB snapshots, no AOF (Pub/Sub only keeps nothing anyway).
P_REDIS="$(free_port)"
taskset -c "$REDIS_CPU" "$REDIS_SERVER" --bind 127.0.0.1 --port "$P_REDIS" --save "" --appendonly no \
  --dir "$tmp" --logfile "$tmp/redis.log" --daemonize no >/dev/null 2>&1 &
redis_pid=$!
for _ in $(seq 100); do
  [[ "$(redis-cli -h 127.0.0.1 -p "$P_REDIS" ping 2>/dev/null)" == PONG ]] && break
  kill -0 "$redis_pid" 2>/dev/null || die "redis-server exited: $(tail -n 3 "$tmp/redis.log" 2>/dev/null)"
  sleep 0.1
done
[[ "$(redis-cli -h 127.0.0.1 -p "$P_REDIS" ping 2>/dev/null)" == PONG ]] || die "redis-server did not answer PING in 10 s"
REDIS_URL="redis://127.0.0.1:$P_REDIS"
redis_version="$(redis-cli -h 127.0.0.1 -p "$P_REDIS" info server | tr -d '\r' | awk -F: '$1 == "redis_version" { print $2 }')"
log "redis-server $redis_version on 127.0.0.1:$P_REDIS (PID $redis_pid, CPU $REDIS_CPU)"

raw="bench/results/$NAME-raw.txt"
mkdir -p bench/results
{
  echo "# bench/socketio-cluster.sh raw output, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# Crossgate $commit; $(node --version), $(java -version 2>&1 | head -n 1); redis-server $redis_version; CLK_TCK $CLK_TCK"
  echo "# CLIENTS=$CLIENTS SIZE=$SIZE BURST=$BURST WINDOW=$WINDOW WARMUP=$WARMUP DURATION=$DURATION SUT_CPU=$SUT_CPU LOAD_CPU=$LOAD_CPU REDIS_CPU=$REDIS_CPU"
} >"$raw"

# Per round and kind: RATE (delivered msgs/s), CPM (both nodes' CPU s per million delivered), CPMA/CPMB (node A / B),
# RCPM (Redis CPU s per million), SB/CB/RB (both nodes' / harness / Redis process busy %), SC/LC (SUT / load CPU busy
# % in all), SAT (which side saturated), LAT (burst p50 ms), SPLIT (messages delivered by node A's / B's receivers).
declare -A RATE CPM CPMA CPMB RCPM SB CB RB SC LC SAT LAT SPLIT
busy_pct() {  # CPU busy % of both CPUs in all over one second (/proc/stat)
  local a b
  a="$(grep -E "^cpu($SUT_CPU|$LOAD_CPU) " /proc/stat)"; sleep 1; b="$(grep -E "^cpu($SUT_CPU|$LOAD_CPU) " /proc/stat)"
  printf '%s\n%s\n' "$a" "$b" | awk '{ t = 0; for (i = 2; i <= 9; i++) t += $i; idle = $5 + $6 }
    NR <= 2 { t0 += t; i0 += idle } NR > 2 { t1 += t; i1 += idle } END { printf "%.0f", 100 * (1 - (i1 - i0) / (t1 - t0)) }'
}
quiet() {  # waits (QUIET_WAIT s at most) until the two CPUs are at most 10% busy without us, else warns
  local p="?"
  for _ in $(seq "$QUIET_WAIT"); do p="$(busy_pct)"; (( p <= 10 )) && return 0; done
  log "the CPUs are still ${p}% busy with other work after ${QUIET_WAIT} s: measuring anyway"
  echo "# round $round: CPUs ${p}% busy with other work before the measurement" >>"$raw"
}
start_node() {  # out-file command...: starts one node on SUT_CPU, waits for READY, prints its PID
  local out=$1; shift
  taskset -c "$SUT_CPU" "$@" >"$out.out" 2>"$out.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 300); do grep -q '^READY' "$out.out" 2>/dev/null && break; kill -0 "$pid" 2>/dev/null || die "$out exited: $(tail -n 5 "$out.err")"; sleep 0.1; done
  grep -q '^READY' "$out.out" || die "$out did not start in 30 s"
  START_PID=$pid
}
stop_node() {  # pid: SIGTERM, then at most 10 s (the Crossgate node prints its adapter counters on the way out)
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
measure() {  # name command-of-node-A... -- command-of-node-B...
  local name=$1; shift
  local a=() b=()
  while [[ $1 != -- ]]; do a+=("$1"); shift; done; shift
  b=("$@")
  local out="$tmp/$name-$round"
  quiet
  log "$name: starting nodes A (port $pa) and B (port $pb)"
  # shellcheck disable=SC2154
  start_node "$out.a" "${a[@]}"; local pid_a=$START_PID
  start_node "$out.b" "${b[@]}"; local pid_b=$START_PID
  # Both nodes' adapters subscribed: the request channel of "/" has two subscribers (both adapters subscribe to it
  # when the namespace is created, as they psubscribe to its broadcasts).
  local subs=0
  for _ in $(seq 300); do
    subs="$(redis-cli -h 127.0.0.1 -p "$P_REDIS" pubsub numsub 'socket.io-request#/#' | sed -n 2p)"
    [[ $subs == 2 ]] && break; sleep 0.1
  done
  [[ $subs == 2 ]] || die "$name: $subs node(s) subscribed to socket.io-request#/# after 30 s, expected 2"
  log "$name: $CLIENTS clients (half on each node), ${WARMUP} s warm-up, ${DURATION} s measured"
  taskset -c "$LOAD_CPU" node bench/socketio/broadcast-clients.mjs "http://127.0.0.1:$pa,http://127.0.0.1:$pb" "$CLIENTS" "$SIZE" \
    "$BURST" "$WINDOW" "$WARMUP" "$DURATION" "$pid_a,$pid_b" "$SUT_CPU" "$LOAD_CPU" "$redis_pid" >"$out.clients" 2>&1 &
  local cpid=$!
  pids+=("$cpid")
  for _ in $(seq $(( (WARMUP + DURATION + 240) * 10 ))); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$cpid" 2>/dev/null && die "$name: the harness did not finish in $(( WARMUP + DURATION + 240 )) s"
  wait "$cpid" || die "$name: the harness failed: $(tail -n 5 "$out.clients")"
  kill -0 "$pid_a" 2>/dev/null || die "$name: node A exited during the measurement: $(tail -n 5 "$out.a.err")"
  kill -0 "$pid_b" 2>/dev/null || die "$name: node B exited during the measurement: $(tail -n 5 "$out.b.err")"
  stop_node "$pid_a"; stop_node "$pid_b"
  {
    echo; echo "===== round $round, $name"
    echo "--- node A: ${a[*]}"; cat "$out.a.out"; echo "--- node A stderr"; tail -n 20 "$out.a.err"
    echo "--- node B: ${b[*]}"; cat "$out.b.out"; echo "--- node B stderr"; tail -n 20 "$out.b.err"
    echo "--- harness"; cat "$out.clients"
  } >>"$raw"
  local res
  res="$(grep '^RESULT ' "$out.clients")" || die "$name: no RESULT line: $(tail -n 5 "$out.clients")"
  field() { tr ' ' '\n' <<<"$res" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
  local secs delivered st ste ct rt ut lt
  secs="$(field seconds)"; delivered="$(field delivered)"
  st="$(field server_ticks)"; ste="$(field server_ticks_each)"; ct="$(field client_ticks)"; rt="$(field extra_ticks)"
  ut="$(field sut_cpu_ticks)"; lt="$(field load_cpu_ticks)"
  (( delivered > 0 )) || die "$name: nothing delivered in the measured window"
  RATE[$name,$round]="$(field msgs_per_s)"
  LAT[$name,$round]="$(field burst_ms_p50)"
  SPLIT[$name,$round]="$(field delivered_each | tr ',' '/')"
  per_million() { awk -v t="$1" -v h="$CLK_TCK" -v d="$delivered" 'BEGIN { printf "%.2f", t / h / d * 1e6 }'; }
  pct() { awk -v t="$1" -v h="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.0f", 100 * t / h / s }'; }
  CPM[$name,$round]="$(per_million "$st")"
  CPMA[$name,$round]="$(per_million "${ste%%,*}")"; CPMB[$name,$round]="$(per_million "${ste##*,}")"
  RCPM[$name,$round]="$(per_million "$rt")"
  SB[$name,$round]="$(pct "$st")"; CB[$name,$round]="$(pct "$ct")"; RB[$name,$round]="$(pct "$rt")"
  SC[$name,$round]="$(pct "$ut")"; LC[$name,$round]="$(pct "$lt")"
  local sc=${SC[$name,$round]} lc=${LC[$name,$round]} sat=neither
  if (( sc >= 90 && lc >= 90 )); then sat=both; elif (( sc >= 90 )); then sat=servers; elif (( lc >= 90 )); then sat=harness; fi
  SAT[$name,$round]=$sat
  log "$name: ${RATE[$name,$round]} msgs/s, servers ${CPM[$name,$round]} CPU s per million (A ${CPMA[$name,$round]}, B ${CPMB[$name,$round]}), Redis ${RCPM[$name,$round]}; busy: servers ${SB[$name,$round]}% (CPU $SUT_CPU ${SC[$name,$round]}%), harness ${CB[$name,$round]}% + Redis ${RB[$name,$round]}% (CPU $LOAD_CPU ${LC[$name,$round]}%); saturated: $sat"
}

pa=""; pb=""
for round in $(seq "$RUNS"); do
  pa="$(free_port)"; pb="$(free_port)"
  measure node node bench/socketio/broadcast-server.mjs "$pa" "$REDIS_URL" \
    -- node bench/socketio/broadcast-server.mjs "$pb" "$REDIS_URL"
  pa="$(free_port)"; pb="$(free_port)"
  # shellcheck disable=SC2086
  measure crossgate java $JAVA_OPTS_EXTRA -jar "$tmp/bench.jar" socketio-broadcast-server --port "$pa" --redis "$REDIS_URL" \
    -- java $JAVA_OPTS_EXTRA -jar "$tmp/bench.jar" socketio-broadcast-server --port "$pb" --redis "$REDIS_URL"
done
median() {  # array-name kind
  local -n m=$1
  for r in $(seq "$RUNS"); do echo "${m[$2,$r]}"; done | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
rounds() {  # array-name kind: every round, " / " between
  local -n m=$1
  local s=""
  for r in $(seq "$RUNS"); do s+="${s:+ / }${m[$2,$r]}"; done
  echo "$s"
}
harness_saturated=0
for n in node crossgate; do
  for r in $(seq "$RUNS"); do [[ ${SAT[$n,$r]} == harness || ${SAT[$n,$r]} == both ]] && harness_saturated=1; done
done
# CPU time beyond the measured processes (both nodes on one CPU; harness and Redis on the other): the kernel's
# softirq work outside them, and any other process. A lot of it means something else ran and the round is suspect.
noisy=""
for r in $(seq "$RUNS"); do
  for n in node crossgate; do
    sut_extra=$(( SC[$n,$r] - SB[$n,$r] )); load_extra=$(( LC[$n,$r] - CB[$n,$r] ))
    [[ $REDIS_CPU == "$LOAD_CPU" ]] && load_extra=$(( load_extra - RB[$n,$r] ))
    (( sut_extra > 20 || load_extra > 20 )) && noisy+="${noisy:+, }round $r $n (CPU $SUT_CPU +$sut_extra, CPU $LOAD_CPU +$load_extra points)"
  done
done
node_rate="$(median RATE node)"; cg_rate="$(median RATE crossgate)"
node_cpm="$(median CPM node)"; cg_cpm="$(median CPM crossgate)"
node_rcpm="$(median RCPM node)"; cg_rcpm="$(median RCPM crossgate)"
rate_ratio="$(awk -v a="$cg_rate" -v b="$node_rate" 'BEGIN { printf "%.2f", a / b }')"
cpu_ratio="$(awk -v a="$node_cpm" -v b="$cg_cpm" 'BEGIN { printf "%.2f", a / b }')"
redis_ratio="$(awk -v a="$node_rcpm" -v b="$cg_rcpm" 'BEGIN { printf "%.2f", (b > 0) ? a / b : 0 }')"
if (( harness_saturated )); then
  basis="the client harness saturated its CPU (CPU $LOAD_CPU >= 90% busy) in at least one measurement, so the comparison is on the servers' CPU time per million delivered messages (both nodes)"
  verdict="$(awk -v r="$cpu_ratio" 'BEGIN { print (r >= 2 ? "met" : "**not met**") }') (Node.js's two nodes use ${cpu_ratio}x the CPU of Crossgate's two per message)"
else
  basis="the client harness did not saturate its CPU in any measurement, so the comparison is on delivered messages/s"
  verdict="$(awk -v r="$rate_ratio" 'BEGIN { print (r >= 2 ? "met" : "**not met**") }') (Crossgate delivers ${rate_ratio}x Node.js's messages/s)"
fi
md="bench/results/$NAME.md"
{
  echo "# Socket.IO broadcast throughput across two nodes through Redis: Crossgate against Node.js"
  echo
  echo "$CLIENTS WebSocket clients (official \`socket.io-client\` 4.8.1, one Node process on CPU $LOAD_CPU), half on each of two"
  echo "nodes (both on CPU $SUT_CPU), receive broadcasts of a $SIZE-character string. The nodes share one \`redis-server\` $redis_version"
  echo "(loopback, no persistence, on CPU $REDIS_CPU): Node.js \`socket.io\` 4.8.1 with \`@socket.io/redis-adapter\` 8.3.0 (classic"
  echo "\`createAdapter\`, \`redis\` 4.7.1), Crossgate with \`RedisAdapter\` (classic mode, key \`socket.io\`). A driver client on node A"
  echo "asks for bursts of $BURST broadcasts (\`io.emit\` / \`Namespace.emit\` on node A: its own receivers directly, node B's through"
  echo "one Redis PUBLISH per broadcast). Closed loop: $WINDOW bursts in flight, the next asked for when a burst has reached every"
  echo "client on both nodes. ${WARMUP} s warm-up, ${DURATION} s measured; $RUNS rounds of \`bench/socketio-cluster.sh\` (Node.js first in each),"
  echo "every message checked. Busy % = CPU time / wall time: of the processes (utime + stime, all threads; \"servers\" is both"
  echo "nodes together) and of their CPUs in all (includes the kernel's loopback work and any other process). A side is"
  echo "saturated when its CPU is >= 90% busy."
  echo
  echo "| servers (2 nodes) | delivered msgs/s (median of $RUNS) | servers' CPU s per million delivered, A + B (median) | Redis CPU s per million (median) | per round: msgs/s | per round: delivered to A's / B's receivers | per round: CPU s per million, A + B (A, B) | per round: Redis CPU s per million | per round: busy % both nodes (CPU $SUT_CPU in all) | per round: busy % harness + Redis (CPU $LOAD_CPU in all) | per round: saturated | per round: burst p50 ms |"
  echo "| --- | ---: | ---: | ---: | --- | --- | --- | --- | --- | --- | --- | --- |"
  for n in node crossgate; do
    label="Crossgate (crossgate-realtime RedisAdapter, JVM ${JAVA_OPTS_EXTRA:-defaults})"
    [[ $n == node ]] && label="Node.js socket.io 4.8.1 + @socket.io/redis-adapter 8.3.0 ($(node --version))"
    cpm=""; sbc=""; cbc=""
    for r in $(seq "$RUNS"); do
      cpm+="${cpm:+ / }${CPM[$n,$r]} (${CPMA[$n,$r]}, ${CPMB[$n,$r]})"
      sbc+="${sbc:+ / }${SB[$n,$r]} (${SC[$n,$r]})"
      cbc+="${cbc:+ / }${CB[$n,$r]} + ${RB[$n,$r]} (${LC[$n,$r]})"
    done
    rate_med="$node_rate"; cpm_med="$node_cpm"; rcpm_med="$node_rcpm"
    [[ $n == crossgate ]] && { rate_med="$cg_rate"; cpm_med="$cg_cpm"; rcpm_med="$cg_rcpm"; }
    echo "| $label | $rate_med | $cpm_med | $rcpm_med | $(rounds RATE $n) | $(rounds SPLIT $n) | $cpm | $(rounds RCPM $n) | $sbc | $cbc | $(rounds SAT $n) | $(rounds LAT $n) |"
  done
  echo
  echo "Crossgate / Node.js: delivered msgs/s **${rate_ratio}x**; Node.js / Crossgate servers' CPU per million messages **${cpu_ratio}x**"
  echo "(Redis's CPU per million: Node.js's cluster / Crossgate's ${redis_ratio}x; both publish one message per broadcast)."
  echo "Target: Crossgate at least 2x Node.js; $basis: $verdict."
  if [[ -n $noisy ]]; then
    echo
    echo "Caution: CPUs busier than the measured processes by more than 20 points (kernel work elsewhere or other processes): $noisy."
  fi
  if grep -q 'busy with other work' "$raw"; then
    echo
    echo "Caution: the CPUs were not quiet before some measurements (see the raw file's \"busy with other work\" lines)."
  fi
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); machine: nproc $(nproc), $(uname -srm)"
  echo "- Crossgate: commit $commit (at the build); java: $(java -version 2>&1 | head -n 1); $(grep -h '^JVM ' "$raw" | head -n 1)"
  echo "- Crossgate adapter counters at exit, last round (node A; node B): $(grep -h '^ADAPTER ' "$raw" | tail -n 2 | tr '\n' ';' | sed 's/;$//; s/;/; /')"
  echo "- one node, same harness: \`bench/results/socketio-broadcast.md\`"
  echo "- raw output: \`$raw\`"
} >"$md"
cat "$md"
