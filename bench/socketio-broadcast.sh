#!/usr/bin/env bash
# Socket.IO broadcast throughput: messages per second delivered when broadcasting to CLIENTS clients, Crossgate's
# embedded Socket.IO server (crossgate-realtime) against the Node.js reference server (npm socket.io 4.8.1), in
# the same run, with the same client harness (the official socket.io-client 4.8.1 in Node, WebSocket transport).
#
#   bench/socketio-broadcast.sh
#
# For each server: start it alone on CPU SUT_CPU (taskset), then the harness (bench/socketio/broadcast-clients.mjs)
# alone on CPU LOAD_CPU. The harness opens CLIENTS receivers on namespace "/" and one driver on "/driver". The
# driver emits "burst" {n: BURST, size: SIZE}; the server (bench/socketio/broadcast-server.mjs, or
# `crossgate-bench-ws.jar socketio-broadcast-server`) then broadcasts BURST events "m", a string of SIZE
# characters, to every socket of "/" (io.emit / Namespace.emit). A closed loop: WINDOW bursts are in flight and
# the next is asked for only when a whole burst has reached every receiver, so at most WINDOW x BURST messages
# per receiver are on their way and neither server can queue without bound. After WARMUP seconds the harness
# measures for DURATION seconds: messages delivered (summed over receivers) per second, the CPU time (utime +
# stime from /proc/PID/stat, all threads) of the server and of the harness, and the busy time of both CPUs in
# all (/proc/stat; includes the kernel's loopback work and any other process). Then it stops asking, waits for
# the bursts on their way and fails unless every receiver got every message.
#
# Two CPUs: the single-process harness may well saturate its CPU before the server does. So the results report,
# besides delivered messages/s, the server's CPU seconds per million delivered messages, the CPU busy % of each
# side, and which side was saturated (its CPU >= 90% busy); when the harness saturated in any measurement, the
# verdict on the target (Crossgate at least 2x Node.js) is on CPU per million messages, else on messages/s.
# RUNS rounds (each round measures both servers, one after the other, Node.js first); the table shows the median
# and every round. Writes bench/results/socketio-broadcast.md and a raw file.
# Before each measurement it waits (QUIET_WAIT seconds at most) until both CPUs are at most 10% busy, since
# anything else running on them skews the figures; the results flag measurements where the CPUs were much busier
# than the two processes.
# Knobs: RUNS=3 CLIENTS=1000 SIZE=64 BURST=10 WINDOW=4 WARMUP=10 DURATION=15 QUIET_WAIT=60 (seconds) SUT_CPU=0 LOAD_CPU=1,
# CROSSGATE_JAVA_OPTS="..." (JVM options for Crossgate's server, after those of jvm.options; LAUNCHER_OPTIONS=0 drops jvm.options),
# RESULTS_NAME=socketio-broadcast. Installs nothing with apt; needs node/npm (scripts/install-browser-deps.sh
# installs them) and npm ci's its own node_modules. Loopback only.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
RUNS="${RUNS:-3}"
CLIENTS="${CLIENTS:-1000}"
SIZE="${SIZE:-64}"
BURST="${BURST:-10}"
WINDOW="${WINDOW:-4}"
WARMUP="${WARMUP:-10}"
DURATION="${DURATION:-15}"
SUT_CPU="${SUT_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
QUIET_WAIT="${QUIET_WAIT:-60}"
# The launcher's JVM options (jvm.options), as ./crossgate runs; LAUNCHER_OPTIONS=0 leaves the JVM its own choices.
LAUNCHER_JAVA_OPTS=""
if [[ "${LAUNCHER_OPTIONS:-1}" != 0 ]]; then LAUNCHER_JAVA_OPTS="$(grep -v -e '^#' -e '^[[:space:]]*$' jvm.options | tr '\n' ' ')"; fi
JAVA_OPTS_EXTRA="${LAUNCHER_JAVA_OPTS}${CROSSGATE_JAVA_OPTS:-}"
NAME="${RESULTS_NAME:-socketio-broadcast}"
P_NODE=18303
P_CG=18304
log() { echo "socketio-broadcast: $*" >&2; }
die() { log "$*"; exit 1; }

for t in node npm java taskset getconf ss; do command -v "$t" >/dev/null || die "$t is not on the PATH"; done
for v in RUNS CLIENTS SIZE BURST WINDOW WARMUP DURATION SUT_CPU LOAD_CPU QUIET_WAIT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v=${!v} is not a whole number"
done
(( RUNS >= 1 && CLIENTS >= 1 && BURST >= 1 && BURST <= 10000 && WINDOW >= 1 && DURATION >= 1 && SIZE <= 1000000 )) \
  || die "expected RUNS, CLIENTS, WINDOW, DURATION >= 1, BURST in [1, 10000], SIZE <= 1000000"
CLK_TCK="$(getconf CLK_TCK)"
if (( $(ulimit -n) < CLIENTS + 500 )); then
  ulimit -n $(( CLIENTS + 500 )) 2>/dev/null || die "the open-file limit $(ulimit -n) is below CLIENTS + 500 and cannot be raised"
fi
for p in $P_NODE $P_CG; do [[ -z "$(ss -Hltn "sport = :$p")" ]] || die "port $p is in use"; done

log "building crossgate-bench-ws (with crossgate-realtime)"
mvn -q -B -ntp -DskipTests -pl bench/ws -am package >&2 || die "build failed"
commit="$(git rev-parse --short HEAD)"  # what was built (read-only git; --no-optional-locks: no index refresh)
[[ -z "$(git --no-optional-locks status --porcelain -- crossgate-realtime crossgate-cors)" ]] \
  || commit+=" plus uncommitted changes in crossgate-realtime or crossgate-cors"
if [[ ! -d bench/socketio/node_modules/socket.io ]]; then
  log "installing the Node.js peer (npm ci)"
  (cd bench/socketio && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

tmp="$(mktemp -d /tmp/socketio-broadcast.XXXXXX)"
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

raw="bench/results/$NAME-raw.txt"
mkdir -p bench/results
{
  echo "# bench/socketio-broadcast.sh raw output, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# Crossgate $commit; $(node --version), $(java -version 2>&1 | head -n 1); CLK_TCK $CLK_TCK"
  echo "# CLIENTS=$CLIENTS SIZE=$SIZE BURST=$BURST WINDOW=$WINDOW WARMUP=$WARMUP DURATION=$DURATION SUT_CPU=$SUT_CPU LOAD_CPU=$LOAD_CPU"
} >"$raw"

# Per round and server: RATE (delivered msgs/s), CPM (server CPU s per million delivered), SB/CB (server / harness
# process CPU busy %), SC/LC (SUT / load CPU busy % in all), SAT (which side saturated), LAT (burst p50 ms).
declare -A RATE CPM SB CB SC LC SAT LAT
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
measure() {  # name port command...
  local name=$1 port=$2; shift 2
  local out="$tmp/$name-$round"
  quiet
  log "$name: starting"
  taskset -c "$SUT_CPU" "$@" >"$out.out" 2>"$out.err" &
  local pid=$!
  pids+=("$pid")
  for _ in $(seq 300); do grep -q '^READY' "$out.out" 2>/dev/null && break; kill -0 "$pid" || die "$name exited: $(cat "$out.err")"; sleep 0.1; done
  grep -q '^READY' "$out.out" || die "$name did not start in 30 s"
  log "$name: $CLIENTS clients, ${WARMUP} s warm-up, ${DURATION} s measured"
  taskset -c "$LOAD_CPU" node bench/socketio/broadcast-clients.mjs "http://127.0.0.1:$port" "$CLIENTS" "$SIZE" "$BURST" "$WINDOW" \
    "$WARMUP" "$DURATION" "$pid" "$SUT_CPU" "$LOAD_CPU" >"$out.clients" 2>&1 &
  local cpid=$!
  pids+=("$cpid")
  for _ in $(seq $(( (WARMUP + DURATION + 240) * 10 ))); do kill -0 "$cpid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$cpid" 2>/dev/null && die "$name: the harness did not finish in $(( WARMUP + DURATION + 240 )) s"
  wait "$cpid" || die "$name: the harness failed: $(tail -n 5 "$out.clients")"
  kill -0 "$pid" 2>/dev/null || die "$name exited during the measurement: $(tail -n 5 "$out.err")"
  kill -TERM "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true
  { echo; echo "===== round $round, $name: $*"; cat "$out.out" "$out.clients"; echo "--- stderr"; tail -n 20 "$out.err"; } >>"$raw"
  local res
  res="$(grep '^RESULT ' "$out.clients")" || die "$name: no RESULT line: $(tail -n 5 "$out.clients")"
  field() { tr ' ' '\n' <<<"$res" | awk -F= -v k="$1" '$1 == k { print $2 }'; }
  local secs delivered st ct ut lt
  secs="$(field seconds)"; delivered="$(field delivered)"
  st="$(field server_ticks)"; ct="$(field client_ticks)"; ut="$(field sut_cpu_ticks)"; lt="$(field load_cpu_ticks)"
  (( delivered > 0 )) || die "$name: nothing delivered in the measured window"
  RATE[$name,$round]="$(field msgs_per_s)"
  LAT[$name,$round]="$(field burst_ms_p50)"
  pct() { awk -v t="$1" -v h="$CLK_TCK" -v s="$secs" 'BEGIN { printf "%.0f", 100 * t / h / s }'; }
  CPM[$name,$round]="$(awk -v t="$st" -v h="$CLK_TCK" -v d="$delivered" 'BEGIN { printf "%.2f", t / h / d * 1e6 }')"
  SB[$name,$round]="$(pct "$st")"; CB[$name,$round]="$(pct "$ct")"; SC[$name,$round]="$(pct "$ut")"; LC[$name,$round]="$(pct "$lt")"
  local sc=${SC[$name,$round]} lc=${LC[$name,$round]} sat=neither
  if (( sc >= 90 && lc >= 90 )); then sat=both; elif (( sc >= 90 )); then sat=server; elif (( lc >= 90 )); then sat=harness; fi
  SAT[$name,$round]=$sat
  log "$name: ${RATE[$name,$round]} msgs/s, ${CPM[$name,$round]} server CPU s per million; busy: server ${SB[$name,$round]}% (CPU $SUT_CPU ${SC[$name,$round]}%), harness ${CB[$name,$round]}% (CPU $LOAD_CPU ${LC[$name,$round]}%); saturated: ${SAT[$name,$round]}"
}

for round in $(seq "$RUNS"); do
  measure node $P_NODE node bench/socketio/broadcast-server.mjs $P_NODE
  # shellcheck disable=SC2086
  measure crossgate $P_CG java $JAVA_OPTS_EXTRA -jar "$tmp/bench.jar" socketio-broadcast-server --port $P_CG
done
median() {  # array-name server
  local -n a=$1
  for r in $(seq "$RUNS"); do echo "${a[$2,$r]}"; done | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
rounds() {  # array-name server [suffix]: every round, " / " between
  local -n a=$1
  local s=""
  for r in $(seq "$RUNS"); do s+="${s:+ / }${a[$2,$r]}${3:-}"; done
  echo "$s"
}
harness_saturated=0
for n in node crossgate; do
  for r in $(seq "$RUNS"); do [[ ${SAT[$n,$r]} == harness || ${SAT[$n,$r]} == both ]] && harness_saturated=1; done
done
# CPU time beyond the two measured processes: the kernel's softirq work outside them, and any other process.
# A lot of it means something else ran on these CPUs and the round is suspect.
noisy=""
for r in $(seq "$RUNS"); do
  for n in node crossgate; do
    (( SC[$n,$r] - SB[$n,$r] > 20 || LC[$n,$r] - CB[$n,$r] > 20 )) \
      && noisy+="${noisy:+, }round $r $n (CPU $SUT_CPU +$(( SC[$n,$r] - SB[$n,$r] )), CPU $LOAD_CPU +$(( LC[$n,$r] - CB[$n,$r] )) points)"
  done
done
node_rate="$(median RATE node)"; cg_rate="$(median RATE crossgate)"
node_cpm="$(median CPM node)"; cg_cpm="$(median CPM crossgate)"
rate_ratio="$(awk -v a="$cg_rate" -v b="$node_rate" 'BEGIN { printf "%.2f", a / b }')"
cpu_ratio="$(awk -v a="$node_cpm" -v b="$cg_cpm" 'BEGIN { printf "%.2f", a / b }')"
if (( harness_saturated )); then
  basis="the client harness saturated its CPU (CPU $LOAD_CPU >= 90% busy) in at least one measurement, so the comparison is on server CPU time per million delivered messages"
  verdict="$(awk -v r="$cpu_ratio" 'BEGIN { print (r >= 2 ? "met" : "**not met**") }') (Node.js uses ${cpu_ratio}x Crossgate's CPU per message)"
else
  basis="the client harness did not saturate its CPU in any measurement, so the comparison is on delivered messages/s"
  verdict="$(awk -v r="$rate_ratio" 'BEGIN { print (r >= 2 ? "met" : "**not met**") }') (Crossgate delivers ${rate_ratio}x Node.js's messages/s)"
fi
md="bench/results/$NAME.md"
{
  echo "# Socket.IO broadcast throughput: Crossgate against Node.js"
  echo
  echo "$CLIENTS WebSocket clients (official \`socket.io-client\` 4.8.1, one Node process on CPU $LOAD_CPU) receive broadcasts"
  echo "of a $SIZE-character string from each server (alone on CPU $SUT_CPU). Closed loop: a driver client asks for bursts of"
  echo "$BURST broadcasts (\`io.emit\` / \`Namespace.emit\`), $WINDOW bursts in flight, the next asked for when a burst has reached"
  echo "every client. ${WARMUP} s warm-up, ${DURATION} s measured; $RUNS rounds of \`bench/socketio-broadcast.sh\`, every message checked."
  echo "Busy % = CPU time / wall time: of the server and harness processes (utime + stime, all threads), and of their CPUs in all"
  echo "(includes the kernel's loopback work and any other process). A side is saturated when its CPU is >= 90% busy."
  echo
  echo "| server | delivered msgs/s (median of $RUNS) | server CPU s per million delivered (median) | per round: msgs/s | per round: CPU s per million | per round: busy % server process (CPU $SUT_CPU in all) | per round: busy % harness process (CPU $LOAD_CPU in all) | per round: saturated | per round: burst p50 ms |"
  echo "| --- | ---: | ---: | --- | --- | --- | --- | --- | --- |"
  for n in node crossgate; do
    label="Crossgate (crossgate-realtime, JVM ${JAVA_OPTS_EXTRA:-defaults})"
    [[ $n == node ]] && label="Node.js socket.io 4.8.1 ($(node --version))"
    sbc=""; cbc=""
    for r in $(seq "$RUNS"); do sbc+="${sbc:+ / }${SB[$n,$r]} (${SC[$n,$r]})"; cbc+="${cbc:+ / }${CB[$n,$r]} (${LC[$n,$r]})"; done
    rate_med="$node_rate"; cpm_med="$node_cpm"
    [[ $n == crossgate ]] && { rate_med="$cg_rate"; cpm_med="$cg_cpm"; }
    echo "| $label | $rate_med | $cpm_med | $(rounds RATE $n) | $(rounds CPM $n) | $sbc | $cbc | $(rounds SAT $n) | $(rounds LAT $n) |"
  done
  echo
  echo "Crossgate / Node.js: delivered msgs/s **${rate_ratio}x**; Node.js / Crossgate server CPU per million messages **${cpu_ratio}x**."
  echo "Target: Crossgate at least 2x Node.js; $basis: $verdict."
  if [[ -n $noisy ]]; then
    echo
    echo "Caution: CPUs busier than the two processes by more than 20 points (kernel work elsewhere or other processes): $noisy."
  fi
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ); machine: nproc $(nproc), $(uname -srm)"
  echo "- Crossgate: commit $commit (at the build); java: $(java -version 2>&1 | head -n 1); $(grep -h '^JVM ' "$raw" | head -n 1)"
  echo "- raw output: \`$raw\`"
} >"$md"
cat "$md"
