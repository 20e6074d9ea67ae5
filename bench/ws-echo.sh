#!/usr/bin/env bash
# WebSocket echo benchmark: Crossgate against nginx, in the same run, on loopback.
#
#   bench/ws-echo.sh
#
# A closed-loop load client (bench/ws, `crossgate-bench-ws.jar load`) keeps CONNS WebSocket connections
# busy: each sends one text message of SIZE bytes, waits for its echo, checks it byte for byte, records the
# round trip and sends the next. The echo comes from one upstream, a Netty WebSocket echo server
# (`crossgate-bench-ws.jar echo-server`), reached three ways:
#   direct         the load client straight to the echo server (for information),
#   via nginx      nginx proxying WebSocket (Upgrade/Connection set, proxy_buffering off),
#   via Crossgate  Crossgate tunnelling WebSocket on websocket.paths [/] (Origin checked against its CORS policy).
#
# CPU budget (2-core machine): the server under test gets CPU 0 alone, pinned with taskset: nginx with
# worker_processes 1, or the whole Crossgate JVM (event loops, GC, JIT); pinned to one CPU the JVM sees 1
# processor, so Crossgate starts 1 worker event loop plus 1 acceptor, and the JVM picks the serial GC.
# The echo server JVM (1 event loop) and the load client JVM (1 event loop) share CPU 1. Every message
# costs CPU 1 the same work whichever way it goes, so when CPU 1 is saturated the figures are limited by
# the load side; the server's CPU % and messages per server CPU-second then tell the proxies apart.
#
# Each target first gets a WARMUP load that is not recorded (Crossgate's JIT needs it; nginx and the echo
# server get the same), then RUNS rounds of every target in turn (interleaved, so that a drift of the
# machine hits every target alike); the tables show medians. Every measured run is a new load client JVM:
# it connects, loads for CLIENT_WARMUP unrecorded (its own JIT), then measures for DURATION. Before every
# measured run the script waits (up to QUIET_MAX seconds) for other processes on the machine to be quiet
# for 2 s, and it records how much CPU processes other than its own used during each run ("foreign"); a
# run with too much of it is repeated.
#
# Checks: before the load, a 1 s run with 1 connection through every target must echo (messages > 0,
# errors 0), and Crossgate must refuse a handshake from an origin outside its policy; after the load,
# Crossgate must still echo and hold no tunnel open to the upstream.
#
# Writes bench/results/ws-echo.md (the tables) and bench/results/ws-echo-raw.txt (configurations, every
# load client output, CPU figures, logs). Installs nginx-light (or nginx) with apt-get when missing. Builds
# Crossgate (./crossgate --version) and bench/ws when their jars are missing or stale, and copies both jars
# to a temporary directory from which everything runs; everything it starts is stopped by PID on exit.
# Knobs, as environment variables:
#   RUNS=3 DURATION=10s WARMUP=20s CLIENT_WARMUP=2s CONNS=50 SIZE=64 CLIENT_THREADS=1 SUT_CPU=0 LOAD_CPU=1
#   QUIET_MAX=120 FOREIGN_MAX=20 RETRIES=3  (a measured run during which other processes used more than
#   FOREIGN_MAX % of a CPU is discarded and repeated, up to RETRIES times; the raw file keeps it)
#   CROSSGATE_JAVA_OPTS="..."   extra JVM options for Crossgate (none by default)
#   RESULTS_NAME=ws-echo        the results files' name
# Run it on an otherwise idle machine; it takes about 4 minutes.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

seconds() {  # "10s" or "10" -> 10
  [[ $2 =~ ^([0-9]+)s?$ ]] || { echo "ws-echo: $1=$2: give whole seconds, such as 10s" >&2; exit 2; }
  echo "${BASH_REMATCH[1]}"
}
RUNS="${RUNS:-3}"
DURATION_S="$(seconds DURATION "${DURATION:-10s}")"
WARMUP_S="$(seconds WARMUP "${WARMUP:-20s}")"
CLIENT_WARMUP_S="$(seconds CLIENT_WARMUP "${CLIENT_WARMUP:-2s}")"
CONNS="${CONNS:-50}"
SIZE="${SIZE:-64}"
CLIENT_THREADS="${CLIENT_THREADS:-1}"
SUT_CPU="${SUT_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
QUIET_MAX="${QUIET_MAX:-120}"
FOREIGN_MAX="${FOREIGN_MAX:-20}"
RETRIES="${RETRIES:-3}"
JAVA_OPTS_EXTRA="${CROSSGATE_JAVA_OPTS:-}"
(( RUNS >= 1 && RUNS <= 20 && DURATION_S >= 1 && CONNS >= 1 && SIZE >= 1 )) \
  || { echo "ws-echo: RUNS (1-20), DURATION, CONNS and SIZE must be positive" >&2; exit 2; }

P_CG=18282        # Crossgate
P_CG_ADMIN=18283  # Crossgate's admin listener (metrics, health), left on as by default
P_UP=18290        # the echo server (CPU 1)
P_NGX=18291       # nginx under test

name="${RESULTS_NAME:-ws-echo}"
md="bench/results/$name.md"
raw="bench/results/$name-raw.txt"
ORIGIN=https://app.example.com

log() { echo "ws-echo: $*" >&2; }
die() { log "$*"; exit 1; }

# ------------------------------------------------------------------ tools
have_nginx() { command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; }
if ! have_nginx; then
  [[ $(id -u) == 0 ]] || die "nginx is missing and installing it needs root"
  log "installing nginx (apt-get)"
  apt-get update -qq
  pkg=nginx-light
  apt-cache show nginx-light >/dev/null 2>&1 || pkg=nginx
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
for t in curl taskset timeout java mvn ss awk sha256sum; do
  command -v "$t" >/dev/null || die "$t is not on the PATH"
done
nprocs="$(nproc)"
(( nprocs >= 2 )) || die "needs 2 CPUs (server under test on one, the load client and the echo server on the other); this machine has $nprocs"

for p in $P_CG $P_CG_ADMIN $P_UP $P_NGX; do
  if [[ -n "$(ss -Hltn "sport = :$p")" ]]; then
    die "port 127.0.0.1:$p is already in use: $(ss -Hltnp "sport = :$p" | head -n 1)"
  fi
done

# ------------------------------------------------------------------ jars
# ./crossgate builds Crossgate's jar when it is missing or older than the sources; bench/ws is built the
# same way here. Both jars are copied so that a rebuild by someone else during the run cannot change the
# classes under a running JVM.
log "building Crossgate and bench/ws when needed"
"$root/crossgate" --version >/dev/null || die "building Crossgate failed"
jar_src="$root/crossgate-server/target/crossgate.jar"
[[ -f $jar_src ]] || die "$jar_src is missing after the build"
bench_src="$root/bench/ws/target/crossgate-bench-ws.jar"
if [[ ! -f $bench_src || -n "$(find pom.xml bench/ws/pom.xml bench/ws/src -type f -newer "$bench_src" -print -quit)" ]]; then
  log "building $bench_src"
  mvn -q -B -ntp -DskipTests -pl bench/ws package >&2 || die "building bench/ws failed"
fi

tmp="$(mktemp -d /tmp/ws-echo.XXXXXX)"
mkdir -p "$tmp/nginx/logs" "$tmp/nginx/temp" "$tmp/load"
cp "$jar_src" "$tmp/crossgate.jar"
cp "$bench_src" "$tmp/bench.jar"
jar_sha="$(sha256sum "$tmp/crossgate.jar" | cut -c1-12)"
git_rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git_dirty="$(git -C "$root" status --porcelain -- crossgate-cors/src crossgate-server/src pom.xml crossgate-cors/pom.xml crossgate-server/pom.xml 2>/dev/null | wc -l)"

# ------------------------------------------------------------------ processes and cleanup
pid_up="" pid_ngx="" pid_cg="" pid_load=""
cleanup() {
  local rc=$?
  set +e
  [[ -n $pid_load ]] && kill -TERM "$pid_load" 2>/dev/null
  for p in $pid_cg $pid_ngx $pid_up; do kill -TERM "$p" 2>/dev/null; done
  for p in $pid_load $pid_cg $pid_ngx $pid_up; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { log "process $p did not stop in 5 s: killing it"; kill -KILL "$p" 2>/dev/null; }
    wait "$p" 2>/dev/null
  done
  if [[ -n ${KEEP_TMP:-} ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ------------------------------------------------------------------ configuration files
# nginx under test: one worker on CPU 0, a WebSocket reverse proxy to the echo server (a new upstream
# connection per WebSocket, as Crossgate opens one).
cat >"$tmp/nginx/sut.conf" <<EOF
worker_processes 1;
pid $tmp/nginx/logs/sut.pid;
error_log $tmp/nginx/logs/sut-error.log warn;
daemon off;
events {
    worker_connections 4096;
    use epoll;
}
http {
    access_log off;
    client_body_temp_path $tmp/nginx/temp/body;
    proxy_temp_path       $tmp/nginx/temp/proxy;
    fastcgi_temp_path     $tmp/nginx/temp/fastcgi;
    uwsgi_temp_path       $tmp/nginx/temp/uwsgi;
    scgi_temp_path        $tmp/nginx/temp/scgi;
    server_tokens off;
    server {
        listen 127.0.0.1:$P_NGX reuseport backlog=4096;
        location / {
            proxy_pass http://127.0.0.1:$P_UP;
            proxy_http_version 1.1;
            proxy_set_header Upgrade \$http_upgrade;
            proxy_set_header Connection "upgrade";
            proxy_set_header Host \$host;
            proxy_read_timeout 3600s;
            proxy_buffering off;
        }
    }
}
EOF

# Crossgate: the same upstream, WebSocket on every path, the load client's Origin allowed, no per-address
# connection limits (all the load comes from 127.0.0.1), no access log (nginx runs with access_log off).
cat >"$tmp/crossgate.yaml" <<EOF
profile: prod
listen: 127.0.0.1:$P_CG
upstream: http://127.0.0.1:$P_UP
hosts: ["127.0.0.1"]
admin:
  listen: 127.0.0.1:$P_CG_ADMIN
log:
  access: false
websocket:
  paths: [/]
cors:
  allowedOrigins: [$ORIGIN]
limits:
  connectionsPerAddress: 0
  newConnectionsPerSecond: 0
EOF
if ! java -jar "$tmp/crossgate.jar" check --config "$tmp/crossgate.yaml" >"$tmp/check.out" 2>&1; then
  cat "$tmp/check.out" >&2; die "crossgate check refuses the benchmark's configuration"
fi

# ------------------------------------------------------------------ start
"$NGINX" -t -q -p "$tmp/nginx" -e "$tmp/nginx/logs/sut-error.log" -c "$tmp/nginx/sut.conf" \
  || die "nginx rejects $tmp/nginx/sut.conf"
taskset -c "$LOAD_CPU" java -jar "$tmp/bench.jar" echo-server --port "$P_UP" >"$tmp/echo.out" 2>"$tmp/echo.err" &
pid_up=$!
taskset -c "$SUT_CPU" "$NGINX" -p "$tmp/nginx" -e "$tmp/nginx/logs/sut-error.log" -c "$tmp/nginx/sut.conf" &
pid_ngx=$!
# shellcheck disable=SC2206
java_cmd=(java $JAVA_OPTS_EXTRA -jar "$tmp/crossgate.jar" serve --config "$tmp/crossgate.yaml" --drain-timeout 2s)
taskset -c "$SUT_CPU" "${java_cmd[@]}" >"$tmp/crossgate.out" 2>"$tmp/crossgate.err" &
pid_cg=$!

wait_port() {  # port pid: any HTTP answer will do (the echo server and the proxies answer a plain GET with 400)
  for _ in $(seq 200); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
    if ! kill -0 "$2" 2>/dev/null; then
      tail -n 20 "$tmp/echo.err" "$tmp/crossgate.err" "$tmp"/nginx/logs/*-error.log >&2 2>/dev/null
      die "the process for port $1 (pid $2) exited (KEEP_TMP=1 keeps $tmp)"
    fi
    sleep 0.1
  done
  die "nothing answers on 127.0.0.1:$1 after 20 s"
}
wait_port $P_UP "$pid_up"
grep -q "^READY port=$P_UP" "$tmp/echo.out" || die "the echo server did not report READY: $(cat "$tmp/echo.out" "$tmp/echo.err")"
wait_port $P_NGX "$pid_ngx"
wait_port $P_CG "$pid_cg"

# ------------------------------------------------------------------ CPU accounting
HZ="$(getconf CLK_TCK)"
children() { local c; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do echo "$c"; children "$c"; done; }
our_pids() {
  local p
  for p in $pid_up $pid_ngx $pid_cg $pid_load; do echo "$p"; children "$p"; done
}
# One reading of the CPU counters, in clock ticks, as "key=value ...": t (seconds), all and cpuN (busy
# ticks of the machine and of each CPU), sut and ours (the given processes), and, for a Crossgate pid,
# its threads by kind: loops (event loops; Linux keeps 15 characters of a thread's name, and Netty's
# acceptor counts with them), jit, gc (VM and GC threads), other. One grep and one awk, so that every
# counter is read at about the same time.
snapshot() {  # sut-pids our-pids [crossgate-pid]
  local files=(/proc/stat) p t="${EPOCHREALTIME/,/.}"
  for p in $2; do files+=("/proc/$p/stat"); done
  [[ -n ${3:-} ]] && files+=(/proc/"$3"/task/*/stat)
  grep -sH '' "${files[@]}" | awk -v sut=" $1 " -v t="$t" '
    { c = index($0, ":"); file = substr($0, 1, c - 1); line = substr($0, c + 1) }
    file == "/proc/stat" { if (split(line, f, " ") && f[1] ~ /^cpu/) v[f[1] == "cpu" ? "all" : f[1]] = f[2] + f[3] + f[4] + f[7] + f[8] + f[9]; next }
    { lp = index(line, "("); rp = match(line, /\) [A-Za-z] /); split(substr(line, rp + 2), f, " "); ticks = f[12] + f[13] }
    file ~ /\/task\// { name = substr(line, lp + 1, rp - lp - 1)
      k = name ~ /^multiThreadIoEv/ ? "loops" : name ~ /^C[12] Compiler/ ? "jit" : name ~ /^(VM Thread|GC Thread|G1 |VM Periodic)/ ? "gc" : "other"
      v[k] += ticks; next }
    { v["ours"] += ticks; if (index(sut, " " substr(line, 1, lp - 2) " ")) v["sut"] += ticks }
    END { printf "t=%s", t; for (k in v) printf " %s=%d", k, v[k]; print "" }'
}
# The CPU used between two snapshots, in % of one CPU: "server load-CPU foreign [loops jit gc other]",
# where foreign is the machine's busy time not used by this benchmark's processes.
cpu_use() {  # snapshot0 snapshot1
  awk -v a="$1" -v b="$2" -v hz="$HZ" -v lc="cpu$LOAD_CPU" 'BEGIN {
    n = split(a, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); A[kv[1]] = kv[2] }
    n = split(b, x, " "); for (i = 1; i <= n; i++) { split(x[i], kv, "="); B[kv[1]] = kv[2] }
    el = (B["t"] - A["t"]) * hz / 100
    f = (B["all"] - A["all"] - (B["ours"] - A["ours"])) / el; if (f < 0) f = 0
    printf "%.0f %.0f %.0f", (B["sut"] - A["sut"]) / el, (B[lc] - A[lc]) / el, f
    if ("loops" in A) printf " %.0f %.0f %.0f %.0f", (B["loops"] - A["loops"]) / el, (B["jit"] - A["jit"]) / el,
      (B["gc"] - A["gc"]) / el, (B["other"] - A["other"]) / el
    print "" }'
}

# waits until processes other than ours used under 20% of one CPU during two seconds in a row
wait_quiet() {
  local waited=0 quiet=0 ours s0 s1 foreign
  while :; do
    ours="$(our_pids | tr '\n' ' ')"
    s0="$(snapshot "" "$ours")"
    sleep 1
    s1="$(snapshot "" "$ours")"
    read -r _ _ foreign _ <<<"$(cpu_use "$s0" "$s1")"
    waited=$(( waited + 1 ))
    if (( foreign < 20 )); then
      quiet=$(( quiet + 1 ))
      (( quiet >= 2 )) && { (( waited > 2 )) && log "machine quiet after ${waited}s"; return 0; }
      continue
    fi
    quiet=0
    if (( waited == 1 )); then log "waiting for other processes to quiet down (up to ${QUIET_MAX}s; they use $foreign% of a CPU)"; fi
    if (( waited >= QUIET_MAX )); then log "machine still busy after ${QUIET_MAX}s; measuring anyway (see the foreign CPU column)"; quiet_timeouts=$(( quiet_timeouts + 1 )); return 0; fi
  done
}
quiet_timeouts=0

# ------------------------------------------------------------------ the load client
# load_start URL CONNS WARMUP DURATION OUT [options...] starts the load client on LOAD_CPU: its JSON goes to
# OUT, its stderr comes through a FIFO on fd 3, so that the script can wait for the client's window markers
# (load_until) without polling; load_finish copies the rest to OUT.err and waits for the client. The client
# stops itself W + D + 10 s after it starts; `timeout` is a second bound, and so is every read.
load_out="" load_deadline=0
load_start() {
  local url=$1 conns=$2 warm=$3 dur=$4
  load_out=$5
  shift 5
  load_deadline=$(( SECONDS + warm + dur + 40 ))
  : >"$load_out.err"
  rm -f "$tmp/load/events"; mkfifo "$tmp/load/events"
  taskset -c "$LOAD_CPU" timeout -k 5 $(( warm + dur + 30 )) java -jar "$tmp/bench.jar" load --url "$url" \
    --connections "$conns" --size "$SIZE" --warmup "$warm" --duration "$dur" --threads "$CLIENT_THREADS" "$@" \
    >"$load_out" 2>"$tmp/load/events" &
  pid_load=$!
  exec 3<"$tmp/load/events"
}
load_until() {  # text: copies the client's stderr to OUT.err up to a line containing text; false at EOF or the deadline
  local line
  while (( SECONDS < load_deadline )) && IFS= read -r -t $(( load_deadline - SECONDS )) line <&3; do
    printf '%s\n' "$line" >>"$load_out.err"
    [[ $line == *"$1"* ]] && return 0
  done
  return 1
}
load_finish() {  # the client's exit status
  local rc=0
  load_until $'\n' || true  # no line contains a newline: copies everything up to EOF
  exec 3<&-
  wait "$pid_load" || rc=$?
  pid_load=""
  return $rc
}
jfield() { grep -o "\"$2\":[-0-9.]*" "$1" 2>/dev/null | head -n 1 | cut -d: -f2; }  # file name

# ------------------------------------------------------------------ raw file: versions and checks
mkdir -p bench/results
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
java_version="$(java -version 2>&1)"
nginx_version="$("$NGINX" -v 2>&1)"
cpu_model="$(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1 || true)"
cg_gc="$(jcmd "$pid_cg" VM.flags 2>/dev/null | tr ' ' '\n' | grep -E '^-XX:\+Use.*GC$' | head -n 1 || true)"
cg_nproc="$(taskset -c "$SUT_CPU" nproc)"  # the JVM counts the CPUs of its affinity mask the same way
printf -v java_cmdline '%q ' taskset -c "$SUT_CPU" "${java_cmd[@]}"
java_cmdline="${java_cmdline% }"

cg_health() {  # one line: RSS, threads, fds, open connections to the upstream
  local rss fds thr up
  rss="$(awk '/^VmRSS/ {print $2}' /proc/"$pid_cg"/status)"
  thr="$(awk '/^Threads/ {print $2}' /proc/"$pid_cg"/status)"
  fds="$(ls /proc/"$pid_cg"/fd | wc -l)"
  up="$(cg_upstream_conns)"
  echo "rss ${rss} KiB, threads $thr, fds $fds, connections to the upstream $up"
}
cg_upstream_conns() { ss -Htnp state established "( dport = :$P_UP )" 2>/dev/null | grep -c "pid=$pid_cg," || true; }

{
  echo "# bench/ws-echo.sh raw output, $started"
  echo "# machine: nproc $nprocs, ${cpu_model:-unknown CPU}, $(uname -srm)"
  echo "# $nginx_version"
  echo "$java_version" | sed 's/^/# /'
  echo "# Crossgate: $git_rev (uncommitted changes in its sources/poms: $git_dirty files), jar sha256 $jar_sha"
  echo "# Crossgate command: $java_cmdline"
  echo "# Crossgate JVM on CPU $SUT_CPU: $cg_nproc active processor(s), ${cg_gc:-?}"
  echo "# echo server: taskset -c $LOAD_CPU java -jar crossgate-bench-ws.jar echo-server --port $P_UP"
  echo
  echo "===== nginx under test (CPU $SUT_CPU): $tmp/nginx/sut.conf"; cat "$tmp/nginx/sut.conf"
  echo; echo "===== Crossgate: $tmp/crossgate.yaml"; cat "$tmp/crossgate.yaml"
} >"$raw"

check_fail=""
check() {  # title url want(echo|refused) [load options...]: a 1 s run with 1 connection
  local title=$1 url=$2 want=$3 out msgs errs
  shift 3
  out="$tmp/load/check-$(( ++checks )).json"
  load_start "$url" 1 0 1 "$out" "$@"
  load_finish || true
  msgs="$(jfield "$out" messages)"; errs="$(jfield "$out" errors)"
  { echo; echo "===== check: $title (expected: $want)"; cat "$out" "$out.err"; } >>"$raw"
  case $want in
    echo) [[ ${msgs:-0} -gt 0 && ${errs:-1} -eq 0 ]] || check_fail+="$title: messages ${msgs:-none}, errors ${errs:-none}; " ;;
    refused) [[ ${msgs:--1} -eq 0 ]] && grep -q '403' "$out.err" || check_fail+="$title: not refused with 403; " ;;
  esac
}
checks=0
check "direct to the echo server :$P_UP" "ws://127.0.0.1:$P_UP/" echo
check "via nginx :$P_NGX" "ws://127.0.0.1:$P_NGX/" echo
check "via Crossgate :$P_CG" "ws://127.0.0.1:$P_CG/" echo
check "via Crossgate, Origin https://other.example.com" "ws://127.0.0.1:$P_CG/" refused --origin https://other.example.com
[[ -z $check_fail ]] || die "a check failed before benchmarking: $check_fail(see $raw)"
log "checks passed: every target echoes, Crossgate refuses another origin"

# ------------------------------------------------------------------ load runs
# id|label|url
targets=(
  "direct|direct to the echo server (CPU $LOAD_CPU, shared with the load client; for information)|ws://127.0.0.1:$P_UP/"
  "nginx|via nginx (CPU $SUT_CPU)|ws://127.0.0.1:$P_NGX/"
  "cg|via Crossgate (CPU $SUT_CPU)|ws://127.0.0.1:$P_CG/"
)
sut_pids_of() {  # target id -> pids of the server in the middle (the echo server for direct)
  case $1 in
    cg) echo "$pid_cg" ;;
    nginx) echo "$pid_ngx"; children "$pid_ngx" ;;
    direct) echo "$pid_up" ;;
  esac
}
threads_tsv="$tmp/threads.tsv"
results="$tmp/results.tsv"
discarded="$tmp/discarded.tsv"
: >"$threads_tsv"; : >"$results"; : >"$discarded"
last_foreign=0 noisy_kept=0
run_one() {  # id label url client-warmup duration phase
  local id=$1 label=$2 url=$3 warm=$4 dur=$5 phase=$6
  local out="$tmp/load/$id-$phase.json" snap0 snap1 sut ours cg="" sutpct cpul foreign thpct="" tl tj tv to
  if [[ $id == cg ]]; then cg=$pid_cg; fi
  load_start "$url" "$CONNS" "$warm" "$dur" "$out"
  # CPU is counted over the client's measured window only (it marks the window on stderr); the load
  # client itself is one of this benchmark's processes.
  load_until "load: window started" || { load_finish || true; cat "$out" "$out.err" >&2; die "the load client did not start its window for $id ($phase)"; }
  sut="$(sut_pids_of "$id" | tr '\n' ' ')"; ours="$(our_pids | tr '\n' ' ')"
  snap0="$(snapshot "$sut" "$ours" "$cg")"
  load_until "load: window ended" || { load_finish || true; cat "$out" "$out.err" >&2; die "the load client did not end its window for $id ($phase)"; }
  snap1="$(snapshot "$sut" "$ours" "$cg")"
  load_finish || { cat "$out" "$out.err" >&2; die "the load client failed for $id ($phase)"; }
  read -r sutpct cpul foreign thpct <<<"$(cpu_use "$snap0" "$snap1")"
  {
    echo; echo "===== $phase: $label"
    echo "\$ taskset -c $LOAD_CPU java -jar crossgate-bench-ws.jar load --url $url --connections $CONNS --size $SIZE --warmup $warm --duration $dur --threads $CLIENT_THREADS"
    cat "$out" "$out.err"
    echo "# CPU during the run (% of one CPU): server $sutpct, cpu$LOAD_CPU busy $cpul, processes other than this benchmark $foreign"
    if [[ $id == cg ]]; then
      read -r tl tj tv to <<<"$thpct"
      echo "# Crossgate CPU by thread (% of one CPU): event loops $tl, JIT $tj, VM and GC $tv, other $to"
      echo "# Crossgate after the run: $(cg_health)"
    fi
  } >>"$raw"
  local mps p50 p90 p99 max msgs errs
  mps="$(jfield "$out" messagesPerSec)"; p50="$(jfield "$out" p50Ms)"; p90="$(jfield "$out" p90Ms)"
  p99="$(jfield "$out" p99Ms)"; max="$(jfield "$out" maxMs)"; msgs="$(jfield "$out" messages)"; errs="$(jfield "$out" errors)"
  [[ -n $mps && -n $errs ]] || { cat "$out" "$out.err" >&2; die "no report from the load client for $id ($phase)"; }
  last_foreign="$foreign"
  log "$(printf '%-7s %-6s %10s msg/s  p99 %7s ms  errors %s  server CPU %s%%  cpu%s %s%%  foreign CPU %s%%' \
        "$id" "$phase" "$mps" "$p99" "$errs" "$sutpct" "$LOAD_CPU" "$cpul" "$foreign")"
  [[ $phase == warmup ]] && return 0
  if [[ $id == cg ]]; then printf '%s\t%s\n' "$phase" "${thpct// /$'\t'}" >>"$threads_tsv"; fi
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$id" "$phase" "$mps" "$p50" "$p99" "$msgs" "$errs" "$sutpct" "$cpul" "$foreign" "$p90" "$max" >>"$results"
}

health_before="$(cg_health)"
echo >>"$raw"; echo "# Crossgate before the benchmark: $health_before" >>"$raw"

log "warm-up: ${WARMUP_S}s per target"
for spec in "${targets[@]}"; do
  IFS='|' read -r id label url <<<"$spec"
  run_one "$id" "$label" "$url" 0 "$WARMUP_S" warmup
done

for r in $(seq "$RUNS"); do
  for spec in "${targets[@]}"; do
    IFS='|' read -r id label url <<<"$spec"
    for attempt in $(seq 0 "$RETRIES"); do
      wait_quiet
      run_one "$id" "$label" "$url" "$CLIENT_WARMUP_S" "$DURATION_S" "run$r"
      (( last_foreign <= FOREIGN_MAX )) && break
      if (( attempt < RETRIES )); then
        tail -n 1 "$results" >>"$discarded"; sed -i '$d' "$results"
        [[ $id == cg ]] && sed -i '$d' "$threads_tsv"
        echo "# discarded: other processes used ${last_foreign}% of a CPU during this run (limit $FOREIGN_MAX); repeated" >>"$raw"
        log "$id run$r discarded (other processes used ${last_foreign}% of a CPU); repeating"
      else
        echo "# kept although other processes used ${last_foreign}% of a CPU: $RETRIES repeats were not enough" >>"$raw"
        noisy_kept=$(( noisy_kept + 1 ))
      fi
    done
  done
done

# ------------------------------------------------------------------ after: is Crossgate still well?
sleep 2
health_after="$(cg_health)"
upstream_after="$(cg_upstream_conns)"
post_fail=""
before="$check_fail"
check "after the benchmark: via Crossgate :$P_CG" "ws://127.0.0.1:$P_CG/" echo
[[ $check_fail == "$before" ]] || post_fail+="Crossgate did not echo after the load; "
(( upstream_after == 0 )) || post_fail+="Crossgate still held $upstream_after connection(s) to the upstream 2 s after the last client closed; "
cg_err_lines="$(grep -c . "$tmp/crossgate.err" || true)"
cg_err_bad="$(grep -ciE 'exception|error|leak|warn' "$tmp/crossgate.err" || true)"
ngx_err_bad="$(grep -cE '\[(alert|crit|error|emerg)\]' "$tmp/nginx/logs/sut-error.log" || true)"
echo_err_lines="$(grep -c . "$tmp/echo.err" || true)"
{
  echo; echo "# Crossgate after the benchmark (2 s idle): $health_after"
  echo; echo "===== Crossgate stderr ($cg_err_lines lines)"; cat "$tmp/crossgate.err"
  echo; echo "===== Crossgate stdout"; cat "$tmp/crossgate.out"
  echo; echo "===== echo server stderr ($echo_err_lines lines)"; cat "$tmp/echo.err"
  echo; echo "===== nginx error log"; cat "$tmp/nginx/logs/sut-error.log"
} >>"$raw"

# ------------------------------------------------------------------ tables
# results.tsv columns: 1 id, 2 phase, 3 msg/s, 4 p50, 5 p99, 6 messages, 7 errors, 8 server CPU %,
# 9 load CPU busy %, 10 foreign CPU %, 11 p90, 12 max
median() {  # id column
  awk -F'\t' -v id="$1" -v c="$2" '$1 == id { print $c }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
allruns() {  # id column printf-format
  awk -F'\t' -v id="$1" -v c="$2" -v f="$3" '$1 == id { printf "%s" f, sep, $c; sep = " / " }' "$results"
}
sumcol() { awk -F'\t' -v id="$1" -v c="$2" '$1 == id { s += $c } END { print s + 0 }' "$results"; }
maxcol() { awk -F'\t' -v id="$1" -v c="$2" '$1 == id && $c + 0 > m { m = $c + 0 } END { print m + 0 }' "$results"; }
fmt_int() { awk -v v="$1" 'BEGIN { s = sprintf("%.0f", v); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }
fmt_ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2fx", a / b }'; }
per_cpu() { awk -v m="$1" -v c="$2" 'BEGIN { if (c + 0 == 0) print "n/a"; else printf "%.0f", m / (c / 100) }'; }  # msg/s, CPU %

declare -A MPS P50 P99 CPU PERCPU
for spec in "${targets[@]}"; do
  IFS='|' read -r id _ _ <<<"$spec"
  MPS[$id]="$(median "$id" 3)"; P50[$id]="$(median "$id" 4)"; P99[$id]="$(median "$id" 5)"; CPU[$id]="$(median "$id" 8)"
  PERCPU[$id]="$(per_cpu "${MPS[$id]}" "${CPU[$id]}")"
done
mps_ratio="$(ratio "${MPS[cg]}" "${MPS[nginx]}")"
target_met="**not met**"
awk -v a="${MPS[cg]}" -v b="${MPS[nginx]}" 'BEGIN { exit !(b + 0 > 0 && a / b >= 1.0) }' && target_met="met"
total_errors=0
for spec in "${targets[@]}"; do IFS='|' read -r id _ _ <<<"$spec"; total_errors=$(( total_errors + $(sumcol "$id" 7) )); done

{
  echo "# WebSocket echo benchmark: Crossgate against nginx"
  echo
  echo "A closed-loop WebSocket load: $CONNS connections, each sending one $SIZE-byte text message, waiting for its"
  echo "echo (checked byte for byte) and sending the next, through a proxy to one upstream WebSocket echo server"
  echo "(Netty), measured in one run of \`bench/ws-echo.sh\` on loopback. Medians of $RUNS runs of ${DURATION_S}s each"
  echo "(rounds interleaved: every target once per round), after a ${WARMUP_S}s warm-up load of every target; every"
  echo "run is a new load client that connects and loads ${CLIENT_WARMUP_S}s unrecorded before its window. Latency is the"
  echo "round trip from sending a message to receiving its echo."
  echo
  echo "**CPU budget.** The server under test has CPU $SUT_CPU to itself (\`taskset -c $SUT_CPU\`): nginx with"
  echo "\`worker_processes 1\`, or the whole Crossgate JVM, which then sees $cg_nproc processor(s) (one worker event loop"
  echo "and one acceptor by default) and chooses \`${cg_gc:-?}\`; GC and JIT share that CPU too. The echo server"
  echo "JVM and the load client JVM (one event loop each) share CPU $LOAD_CPU. Each message costs CPU $LOAD_CPU"
  echo "the same whichever way it goes, so where CPU $LOAD_CPU is saturated the rate is the load side's limit"
  echo "as much as the server's; messages per server CPU-second compares the proxies' cost per message."
  echo
  echo "| target | messages/s (median) | p50 ms (median) | p99 ms (median) | messages/s per run | p99 ms per run | errors | server CPU % | messages per server CPU-second | CPU $LOAD_CPU busy % | other processes CPU % (max) |"
  echo "| --- | ---: | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |"
  for spec in "${targets[@]}"; do
    IFS='|' read -r id label _ <<<"$spec"
    echo "| $label | $(fmt_int "${MPS[$id]}") | $(fmt_ms "${P50[$id]}") | $(fmt_ms "${P99[$id]}") | $(allruns "$id" 3 "%.0f") | $(allruns "$id" 5 "%.2f") | $(sumcol "$id" 7) | ${CPU[$id]} | $(fmt_int "${PERCPU[$id]}") | $(median "$id" 9) | $(maxcol "$id" 10) |"
  done
  echo
  echo "Ratios (of medians):"
  echo
  echo "| ratio | messages/s | p50 | p99 | messages per server CPU-second |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  echo "| Crossgate / nginx | $mps_ratio | $(ratio "${P50[cg]}" "${P50[nginx]}") | $(ratio "${P99[cg]}" "${P99[nginx]}") | $(ratio "${PERCPU[cg]}" "${PERCPU[nginx]}") |"
  echo "| via nginx / direct | $(ratio "${MPS[nginx]}" "${MPS[direct]}") | $(ratio "${P50[nginx]}" "${P50[direct]}") | $(ratio "${P99[nginx]}" "${P99[direct]}") | |"
  echo "| via Crossgate / direct | $(ratio "${MPS[cg]}" "${MPS[direct]}") | $(ratio "${P50[cg]}" "${P50[direct]}") | $(ratio "${P99[cg]}" "${P99[direct]}") | |"
  echo
  echo "Target: Crossgate ≥ 1.0x nginx messages/s: $target_met ($mps_ratio)"
  echo
  echo "## Checks"
  echo
  echo "- Before the load, a 1 s run with 1 connection echoed through every target without error, and Crossgate"
  echo "  refused a handshake with \`Origin: https://other.example.com\` (403); the outputs are in \`$(basename "$raw")\`."
  echo "- errors: totals over the $RUNS measured runs ($total_errors in all): failed handshakes, echoes that differ"
  echo "  from what was sent, connections closed or stalled before the end of the window."
  if [[ -z $post_fail ]]; then
    echo "- After the load Crossgate still echoed (1 s, 1 connection, no error), and 2 s after the last client"
    echo "  closed it held no connection to the upstream."
  else
    echo "- **After the load: $post_fail**"
  fi
  echo "- Crossgate before the load: $health_before; after it (2 s idle): $health_after."
  echo "- Crossgate's stderr: $cg_err_lines lines, $cg_err_bad mentioning exception/error/warn/leak; nginx error log:"
  echo "  $ngx_err_bad alert/crit/error lines; echo server stderr: $echo_err_lines lines."
  echo "- Other processes on the machine: $(grep -c . "$discarded" || true) run(s) discarded and repeated because other"
  echo "  processes used more than $FOREIGN_MAX% of a CPU during them (kept in the raw file)$( (( noisy_kept > 0 )) && echo "; **$noisy_kept run(s) kept above that limit after $RETRIES repeats**")$( (( quiet_timeouts > 0 )) && echo "; **$quiet_timeouts run(s) started on a busy machine after waiting ${QUIET_MAX}s**")."
  echo "- Crossgate's CPU by thread (median % of one CPU): $(awk -F'\t' '{ for (i = 2; i <= 5; i++) v[i, NR] = $i } END {
        split("event loops,JIT,VM and GC,other", n, ",")
        for (i = 2; i <= 5; i++) { for (r = 1; r <= NR; r++) a[r] = v[i, r]
          for (r = 1; r <= NR; r++) for (q = r + 1; q <= NR; q++) if (a[q] + 0 < a[r] + 0) { t = a[r]; a[r] = a[q]; a[q] = t }
          printf "%s%s %s", (i > 2 ? ", " : ""), n[i - 1], (NR ? a[int((NR + 1) / 2)] : "?") } }' "$threads_tsv")."
  saturated=""
  for spec in "${targets[@]}"; do
    IFS='|' read -r id label _ <<<"$spec"
    awk -v v="$(median "$id" 9)" 'BEGIN { exit !(v >= 95) }' && saturated+="${saturated:+; }$label"
  done
  if [[ -n $saturated ]]; then
    echo "- CPU $LOAD_CPU (the load client and the echo server) was saturated (≥ 95% busy) for: $saturated."
    echo "  Those rates are limited by the load side as much as by the server: the server's own capacity is at least that."
  fi
  echo "- CPU % figures are taken over each load client's measured window (it marks the window's start and end)."
  echo "- nginx opens one upstream connection per WebSocket, as Crossgate does; both run without an access log."
  echo
  echo "## Run"
  echo
  echo "- date: $started"
  echo "- machine: nproc $nprocs, ${cpu_model:-unknown CPU}, $(uname -srm)"
  echo "- java: $(echo "$java_version" | tr '\n' ' ' | sed 's/ *$//')"
  echo "- nginx: ${nginx_version#nginx version: }"
  echo "- Crossgate: commit $git_rev$( (( git_dirty > 0 )) && echo " plus uncommitted changes in $git_dirty source/pom files") (jar sha256 $jar_sha...)"
  echo "- command: \`bench/ws-echo.sh\`$( [[ "$RUNS $DURATION_S $WARMUP_S $CLIENT_WARMUP_S $CONNS $SIZE $CLIENT_THREADS $SUT_CPU $LOAD_CPU" != "3 10 20 2 50 64 1 0 1" ]] && echo " with RUNS=$RUNS DURATION=${DURATION_S}s WARMUP=${WARMUP_S}s CLIENT_WARMUP=${CLIENT_WARMUP_S}s CONNS=$CONNS SIZE=$SIZE CLIENT_THREADS=$CLIENT_THREADS SUT_CPU=$SUT_CPU LOAD_CPU=$LOAD_CPU")$( [[ -n $JAVA_OPTS_EXTRA ]] && echo " and CROSSGATE_JAVA_OPTS=\"$JAVA_OPTS_EXTRA\"")"
  echo "- Crossgate: \`$java_cmdline\` (configuration in the raw file)"
  echo "- nginx: \`taskset -c $SUT_CPU nginx -p TMP/nginx -c TMP/nginx/sut.conf\` (configuration in the raw file)"
  echo "- echo server: \`taskset -c $LOAD_CPU java -jar crossgate-bench-ws.jar echo-server --port $P_UP\`"
  echo "- load client: \`taskset -c $LOAD_CPU java -jar crossgate-bench-ws.jar load --url ws://127.0.0.1:PORT/ --connections $CONNS --size $SIZE --warmup $CLIENT_WARMUP_S --duration $DURATION_S --threads $CLIENT_THREADS\` (Origin $ORIGIN)"
  echo "- raw outputs: \`bench/results/$(basename "$raw")\`"
} >"$md"

cat "$md"
