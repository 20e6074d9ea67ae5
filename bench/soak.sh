#!/usr/bin/env bash
# Soak benchmark: Crossgate under steady mixed load for SOAK_SECONDS (10 minutes by default), with Netty's
# paranoid leak detection, checking that nothing fails, nothing leaks and resident memory stays flat.
#
#   bench/soak.sh                       the full run (600 s)
#   SOAK_SECONDS=90 bench/soak.sh       a short validation run (the warm-up shrinks in proportion)
#
# What runs (everything on 127.0.0.1, everything started from a temporary directory and stopped by PID on exit):
#   - Crossgate from its built jar (./crossgate --version builds it when stale; the jar is copied first), with the
#     launcher's JVM options (jvm.options) and -Dio.netty.leakDetection.level=paranoid, alone on CPU SUT_CPU
#     (taskset). Configuration: profile prod, a CORS policy for ORIGIN, websocket.paths [/ws], hosted Socket.IO
#     (realtime: hooks on the upstream, the publish API on the admin listener), access log on (to a file).
#   - bench/soak/upstream.mjs (Node): GET /api/hello, POST /api/echo, a WebSocket echo on /ws and the realtime hooks.
#   - bench/soak/load.mjs (Node, official socket.io-client 4.8.1 and ws 8): paced load, every answer checked:
#       HTTP       HTTP_RATE requests/s: proxied GETs (50%), POSTs of 64 B-16 KB echoed byte for byte (30%), CORS
#                  preflights answered by the edge (20%); HTTP_SOCKETS keep-alive connections, every
#                  HTTP_FRESH_EVERY-th request on a new connection (Connection: close)
#       WebSocket  WS_CONNS persistent connections through the edge to the upstream's echo, WS_RATE messages/s in
#                  all (16 B-4 KB, text or binary, each echo checked in order), and WS_CHURN connections/s opened,
#                  echoed once and closed with 1000
#       Socket.IO  SIO_WS WebSocket and SIO_POLLING long-polling clients; SIO_RATE emits/s with an ack (through the
#                  event hook), SIO_SHOUT broadcasts/s asked by a client (the hook's emit to the room every persistent
#                  client is in) and SIO_PUBLISH/s through the publish API, each to be delivered once to every
#                  client; SIO_CHURN clients/s that connect, emit with ack and disconnect
#     The load and the upstream share CPU LOAD_CPU. Each kind is paced every 100 ms with a bound on operations in
#     flight, and every operation has a 10 s deadline: the load is bounded in count and in time.
# Sampled every SAMPLE_SECONDS: Crossgate's resident memory (VmRSS of /proc/PID/status), its CPU (utime+stime of
# /proc/PID/stat, all threads), threads and open descriptors.
#
# Criteria (the exit status is 1 when one fails): 0 errors of every kind; 0 "LEAK:" reports in Crossgate's output;
# resident memory after the warm-up (the first WARMUP_SECONDS, SOAK_SECONDS/5 by default: 120 s of 600) drifting
# less than DRIFT_MAX % (max/min - 1 over the samples after the warm-up); the load finished in time and Crossgate
# still answers after it.
#
# Rates: chosen to load Crossgate to about half of one CPU with paranoid leak detection on (which makes every buffer
# cost much more than in production), on a 2-CPU machine where the other CPU runs the load. The results give
# Crossgate's measured CPU %, so the calibration can be checked; change the knobs to move it.
# Writes bench/results/$RESULTS_NAME.md (the table and the verdict) and bench/results/$RESULTS_NAME-raw.txt (the
# settings, every sample, the load's summary and progress, Crossgate's stderr and any LEAK report).
# The rates ramp up linearly over the first RAMP_SECONDS (half the warm-up): at full rate from the first second,
# the JIT's warm-up under paranoid leak detection builds a backlog that ends in timeouts.
# Knobs (environment): SOAK_SECONDS=600 WARMUP_SECONDS=SOAK_SECONDS/5 RAMP_SECONDS=WARMUP_SECONDS/2 SAMPLE_SECONDS=10 DRIFT_MAX=10
#   HTTP_RATE=120 HTTP_SOCKETS=16 HTTP_FRESH_EVERY=20 WS_CONNS=40 WS_RATE=160 WS_CHURN=1
#   SIO_WS=40 SIO_POLLING=10 SIO_RATE=50 SIO_SHOUT=2 SIO_PUBLISH=1 SIO_CHURN=0.5 SUT_CPU=0 LOAD_CPU=1
#   CROSSGATE_JAVA_OPTS="..." (after jvm.options) RESULTS_NAME=soak (soak-validation-Ns when SOAK_SECONDS < 600)
# Needs java, node and npm (scripts/install-browser-deps.sh installs them), taskset and curl; npm ci's its own
# node_modules in bench/soak. Installs nothing with apt.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

SOAK_SECONDS="${SOAK_SECONDS:-600}"
[[ $SOAK_SECONDS =~ ^[0-9]+$ ]] && (( SOAK_SECONDS >= 30 )) || { echo "soak: SOAK_SECONDS=$SOAK_SECONDS: whole seconds, 30 or more" >&2; exit 2; }
WARMUP_SECONDS="${WARMUP_SECONDS:-$(( SOAK_SECONDS / 5 ))}"
RAMP_SECONDS="${RAMP_SECONDS:-$(( WARMUP_SECONDS / 2 ))}"
SAMPLE_SECONDS="${SAMPLE_SECONDS:-10}"
DRIFT_MAX="${DRIFT_MAX:-10}"
HTTP_RATE="${HTTP_RATE:-120}"
HTTP_SOCKETS="${HTTP_SOCKETS:-16}"
HTTP_FRESH_EVERY="${HTTP_FRESH_EVERY:-20}"
WS_CONNS="${WS_CONNS:-40}"
WS_RATE="${WS_RATE:-160}"
WS_CHURN="${WS_CHURN:-1}"
SIO_WS="${SIO_WS:-40}"
SIO_POLLING="${SIO_POLLING:-10}"
SIO_RATE="${SIO_RATE:-50}"
SIO_SHOUT="${SIO_SHOUT:-2}"
SIO_PUBLISH="${SIO_PUBLISH:-1}"
SIO_CHURN="${SIO_CHURN:-0.5}"
SUT_CPU="${SUT_CPU:-0}"
LOAD_CPU="${LOAD_CPU:-1}"
if (( SOAK_SECONDS < 600 )); then NAME="${RESULTS_NAME:-soak-validation-${SOAK_SECONDS}s}"; else NAME="${RESULTS_NAME:-soak}"; fi
LAUNCHER_JAVA_OPTS="$(grep -v -e '^#' -e '^[[:space:]]*$' jvm.options | tr '\n' ' ')"
JAVA_OPTS="${LAUNCHER_JAVA_OPTS}-Dio.netty.leakDetection.level=paranoid ${CROSSGATE_JAVA_OPTS:-}"
ORIGIN=https://app.soak.example
PUBLISH_TOKEN="soak-publish-token-0123456789abcdef"
P_CG=18401
P_ADMIN=18402
P_UP=18403

log() { echo "soak: $*" >&2; }
die() { log "$*"; exit 1; }
for t in node npm java taskset curl awk; do command -v "$t" >/dev/null || die "$t is not on the PATH"; done
for p in $P_CG $P_ADMIN $P_UP; do [[ -z "$(ss -Hltn "sport = :$p" 2>/dev/null)" ]] || die "port 127.0.0.1:$p is in use"; done

log "building Crossgate when needed"
"$root/crossgate" --version >/dev/null || die "building Crossgate failed"
if [[ ! -d bench/soak/node_modules/socket.io-client || ! -d bench/soak/node_modules/ws ]]; then
  log "installing the load's Node.js packages (npm ci)"
  (cd bench/soak && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

tmp="$(mktemp -d /tmp/soak.XXXXXX)"
cp crossgate-server/target/crossgate.jar "$tmp/crossgate.jar"
jar_sha="$(sha256sum "$tmp/crossgate.jar" | cut -c1-12)"
git_rev="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
git_dirty="$(git status --porcelain -- crossgate-cors/src crossgate-realtime/src crossgate-server/src pom.xml 2>/dev/null | wc -l)"
pid_cg="" pid_up="" pid_load=""
cleanup() {
  local rc=$?
  set +e
  for p in $pid_load $pid_cg $pid_up; do kill -TERM "$p" 2>/dev/null; done
  for p in $pid_load $pid_cg $pid_up; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && { log "process $p did not stop in 10 s: killing it"; kill -KILL "$p" 2>/dev/null; }
    wait "$p" 2>/dev/null
  done
  if [[ -n ${KEEP_TMP:-} ]]; then log "kept $tmp"; else rm -rf "$tmp"; fi
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$tmp/crossgate.yaml" <<EOF
profile: prod
listen: 127.0.0.1:$P_CG
upstream: http://127.0.0.1:$P_UP
hosts: ["127.0.0.1"]
admin:
  listen: 127.0.0.1:$P_ADMIN
cors:
  allowedOrigins: [$ORIGIN]
  allowedMethods: [GET, POST]
  allowedHeaders: [Content-Type]
  maxAge: 600s
websocket:
  paths: [/ws]
# One client address sends everything here: the per-address limits would be its own, not the edge's.
limits:
  connectionsPerAddress: 0
  newConnectionsPerSecond: 0
realtime:
  path: /socket.io/
  namespaces: ["/"]
  token: off
  hooks:
    connect: /realtime/connect
    event: /realtime/event
    disconnect: /realtime/disconnect
  publish:
    token: $PUBLISH_TOKEN
EOF
java -jar "$tmp/crossgate.jar" check --config "$tmp/crossgate.yaml" >"$tmp/check.out" 2>&1 \
  || { cat "$tmp/check.out" >&2; die "crossgate check refuses the soak configuration"; }

# ------------------------------------------------------------------ start
taskset -c "$LOAD_CPU" node bench/soak/upstream.mjs $P_UP >"$tmp/upstream.out" 2>"$tmp/upstream.err" &
pid_up=$!
# shellcheck disable=SC2086  # one option per word
taskset -c "$SUT_CPU" java $JAVA_OPTS -jar "$tmp/crossgate.jar" serve --config "$tmp/crossgate.yaml" --drain-timeout 2s \
  >"$tmp/crossgate.out" 2>"$tmp/crossgate.err" &
pid_cg=$!
for _ in $(seq 300); do
  grep -q LISTENING "$tmp/upstream.out" 2>/dev/null && curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$P_CG/api/hello" -H "Host: 127.0.0.1" && break
  kill -0 "$pid_cg" 2>/dev/null || { tail -n 30 "$tmp/crossgate.err" >&2; die "Crossgate exited at start"; }
  kill -0 "$pid_up" 2>/dev/null || { cat "$tmp/upstream.err" >&2; die "the upstream exited at start"; }
  sleep 0.1
done
first="$(curl -s --max-time 5 -H "Origin: $ORIGIN" "http://127.0.0.1:$P_CG/api/hello")" || true
[[ $first == *soak* ]] || die "a GET through Crossgate did not reach the upstream: $first"

settings="$(cat <<EOF
{"edge":"http://127.0.0.1:$P_CG","admin":"http://127.0.0.1:$P_ADMIN","publishToken":"$PUBLISH_TOKEN","origin":"$ORIGIN",
 "seconds":$SOAK_SECONDS,"rampSeconds":$RAMP_SECONDS,
 "http":{"rate":$HTTP_RATE,"sockets":$HTTP_SOCKETS,"freshEvery":$HTTP_FRESH_EVERY},
 "ws":{"conns":$WS_CONNS,"rate":$WS_RATE,"churnRate":$WS_CHURN},
 "sio":{"wsClients":$SIO_WS,"pollingClients":$SIO_POLLING,"rate":$SIO_RATE,"shoutRate":$SIO_SHOUT,"publishRate":$SIO_PUBLISH,"churnRate":$SIO_CHURN}}
EOF
)"
HZ="$(getconf CLK_TCK)"
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12+$13}'; }
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
loadavg_start="$(cut -d' ' -f1-3 /proc/loadavg)"
log "load for ${SOAK_SECONDS}s (warm-up ${WARMUP_SECONDS}s), Crossgate pid $pid_cg on CPU $SUT_CPU, load on CPU $LOAD_CPU"
taskset -c "$LOAD_CPU" node bench/soak/load.mjs "$settings" >"$tmp/load.json" 2>"$tmp/load.err" &
pid_load=$!

# ------------------------------------------------------------------ samples, until the load ends (bounded)
samples="$tmp/samples.tsv"
printf 't_s\trss_kb\tcpu_pct\tthreads\tfds\tload_cpu_pct\n' >"$samples"
t0="$(date +%s.%N)"
c0="$(cpu_ticks "$pid_cg")"; l0="$(cpu_ticks "$pid_load")"; u0="$(cpu_ticks "$pid_up")"
tp="$t0"
limit=$(( SOAK_SECONDS + 150 ))
k=0
while kill -0 "$pid_load" 2>/dev/null; do
  k=$(( k + 1 ))
  # The k-th sample at t0 + k * SAMPLE_SECONDS (no drift from the sampling's own time).
  while kill -0 "$pid_load" 2>/dev/null && awk -v t0="$t0" -v k="$k" -v s="$SAMPLE_SECONDS" -v now="$(date +%s.%N)" \
      'BEGIN { exit !(now < t0 + k * s) }'; do sleep 0.2; done
  kill -0 "$pid_load" 2>/dev/null || break
  kill -0 "$pid_cg" 2>/dev/null || { log "Crossgate exited during the load"; break; }
  now="$(date +%s.%N)"
  c1="$(cpu_ticks "$pid_cg")"; l1="$(cpu_ticks "$pid_load")"; u1="$(cpu_ticks "$pid_up")"
  rss="$(awk '/^VmRSS/ {print $2}' "/proc/$pid_cg/status")"
  threads="$(awk '/^Threads/ {print $2}' "/proc/$pid_cg/status")"
  fds="$(ls "/proc/$pid_cg/fd" 2>/dev/null | wc -l)"
  awk -v t="$now" -v t0="$t0" -v tp="$tp" -v c="$((c1 - c0))" -v l="$(( (l1 - l0) + (u1 - u0) ))" -v hz="$HZ" \
      -v rss="$rss" -v th="$threads" -v fds="$fds" 'BEGIN {
      el = (t - tp) * hz; printf "%d\t%d\t%.1f\t%d\t%d\t%.1f\n", t - t0, rss, 100 * c / el, th, fds, 100 * l / el }' >>"$samples"
  tail -n 1 "$samples" | awk -F'\t' '{ printf "soak: t=%ss RSS %.1f MB, Crossgate CPU %s%%, threads %s, fds %s, load+upstream CPU %s%%\n", $1, $2 / 1024, $3, $4, $5, $6 }' >&2
  c0="$c1"; l0="$l1"; u0="$u1"; tp="$now"
  if awk -v t="$now" -v t0="$t0" -v lim="$limit" 'BEGIN { exit !(t - t0 > lim) }'; then
    log "the load did not end within ${limit}s: stopping it"; kill -TERM "$pid_load" 2>/dev/null; break
  fi
done
wait "$pid_load" 2>/dev/null && load_rc=0 || load_rc=$?
pid_load=""

# ------------------------------------------------------------------ after the load
sleep 2
alive=no
after="$(curl -s --max-time 5 -H "Origin: $ORIGIN" "http://127.0.0.1:$P_CG/api/hello" || true)"
[[ $after == *soak* ]] && alive=yes
metrics="$(curl -s --max-time 5 "http://127.0.0.1:$P_ADMIN/metrics" || true)"
open_ws_after="$(awk '/^crossgate_websocket(s)?_open/ && !/^#/ {print $2; exit}' <<<"$metrics")"
rss_after="$(awk '/^VmRSS/ {print $2}' "/proc/$pid_cg/status" 2>/dev/null || echo 0)"
access_lines="$(grep -c . "$tmp/crossgate.out" || true)"
leaks="$(cat "$tmp/crossgate.out" "$tmp/crossgate.err" | grep -c 'LEAK:' || true)"
kill -TERM "$pid_up" 2>/dev/null; wait "$pid_up" 2>/dev/null || true; pid_up=""

summary="$(tail -n 1 "$tmp/load.json")"
[[ -n $summary ]] || summary='{"finished":false,"stats":{},"errorSamples":[]}'
# The table rows from the load's summary: kind, done, errors, skipped.
rows="$(node -e '
const s = JSON.parse(process.argv[1]);
const names = { http_get: "HTTP GET (proxied)", http_post: "HTTP POST with a body (proxied, echoed)", http_preflight: "HTTP CORS preflight (edge)",
  ws_echo: "WebSocket echo messages", ws_churn: "WebSocket open, echo, close 1000", sio_ack: "Socket.IO emit with ack (event hook)",
  sio_shout: "Socket.IO broadcast asked by a client (hook emit)", sio_publish: "Socket.IO broadcast through the publish API",
  sio_delivered: "Socket.IO broadcast deliveries (every client, every broadcast)", sio_churn: "Socket.IO connect, ack, disconnect" };
for (const [k, v] of Object.entries(s.stats ?? {})) console.log([names[k] ?? k, v.done, v.errors, v.skipped, v.p50ms ?? "-", v.p99ms ?? "-"].join("\t"));
' "$summary")"
errors_total="$(awk -F'\t' '{ s += $3 } END { print s + 0 }' <<<"$rows")"
finished="$(node -e 'console.log(JSON.parse(process.argv[1]).finished === true ? "yes" : "no")' "$summary")"

# Drift over the samples after the warm-up.
read -r n_after rss_min rss_max drift cpu_mean cpu_max load_mean <<<"$(awk -F'\t' -v w="$WARMUP_SECONDS" 'NR > 1 {
    if ($1 >= w) { n++; if (min == "" || $2 < min) min = $2; if ($2 > max) max = $2; cs += $3; if ($3 > cm) cm = $3; ls += $6 } }
  END { if (n == 0) print 0, 0, 0, "nan", 0, 0, 0; else printf "%d %d %d %.2f %.0f %.0f %.0f\n", n, min, max, 100 * (max / min - 1), cs / n, cm, ls / n }' "$samples")"

verdict_of() { [[ $1 == yes ]] && echo "met" || echo "**not met**"; }
ok_errors=no; (( errors_total == 0 )) && [[ $finished == yes ]] && ok_errors=yes
ok_leaks=no; (( leaks == 0 )) && ok_leaks=yes
ok_drift=no; (( n_after >= 2 )) && awk -v d="$drift" -v m="$DRIFT_MAX" 'BEGIN { exit !(d + 0 < m + 0) }' && ok_drift=yes
ok_alive=no; [[ $alive == yes ]] && ok_alive=yes
overall=PASS
for v in $ok_errors $ok_leaks $ok_drift $ok_alive; do [[ $v == yes ]] || overall=FAIL; done

# ------------------------------------------------------------------ results
mkdir -p bench/results
md="bench/results/$NAME.md"
raw="bench/results/$NAME-raw.txt"
validation=""
(( SOAK_SECONDS < 600 )) && validation=" (validation run: SOAK_SECONDS=$SOAK_SECONDS, not the 10-minute soak)"
{
  echo "# Soak: mixed HTTP, WebSocket and Socket.IO load with paranoid leak detection$validation"
  echo
  echo "**Verdict: $overall.** ${SOAK_SECONDS} s of paced load through Crossgate (\`bench/soak.sh\`), warm-up ${WARMUP_SECONDS} s (rates ramped up over the first ${RAMP_SECONDS} s),"
  echo "Crossgate alone on CPU $SUT_CPU with \`-Dio.netty.leakDetection.level=paranoid\`, the load and the upstream on CPU $LOAD_CPU."
  echo
  echo "| kind | done | errors | skipped (in-flight bound reached) | p50 ms | p99 ms |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: |"
  awk -F'\t' '{ printf "| %s | %d | %d | %d | %s | %s |\n", $1, $2, $3, $4, $5, $6 }' <<<"$rows"
  echo
  echo "| criterion | measured | verdict |"
  echo "| --- | --- | --- |"
  echo "| 0 errors (every answer checked), the load finished in time | $errors_total errors, finished: $finished | $(verdict_of $ok_errors) |"
  echo "| 0 \`LEAK:\` reports in Crossgate's output | $leaks | $(verdict_of $ok_leaks) |"
  echo "| RSS after the warm-up drifts < $DRIFT_MAX % (max/min - 1, $n_after samples every ${SAMPLE_SECONDS} s) | $(awk -v a="$rss_min" -v b="$rss_max" 'BEGIN { printf "%.1f-%.1f MB", a / 1024, b / 1024 }'): $drift % | $(verdict_of $ok_drift) |"
  echo "| Crossgate answers after the load | $alive | $(verdict_of $ok_alive) |"
  echo
  echo "Load level: Crossgate's CPU after the warm-up averaged ${cpu_mean} % of one CPU (max ${cpu_max} % over a ${SAMPLE_SECONDS} s sample);"
  echo "the load generator and the upstream together ${load_mean} %. Open WebSockets in Crossgate's metrics after the load: ${open_ws_after:-n/a};"
  echo "RSS 2 s after the load: $(awk -v a="$rss_after" 'BEGIN { printf "%.1f MB", a / 1024 }'); access-log lines: $access_lines."
  echo
  echo "Rates: HTTP $HTTP_RATE req/s (GET 50 %, POST 30 %, preflight 20 %; $HTTP_SOCKETS keep-alive connections, every"
  echo "${HTTP_FRESH_EVERY}th request on a new one); WebSocket $WS_CONNS connections, $WS_RATE messages/s, $WS_CHURN new connection(s)/s;"
  echo "Socket.IO $SIO_WS WebSocket + $SIO_POLLING polling clients, $SIO_RATE emits with ack/s, $SIO_SHOUT hook broadcasts/s and"
  echo "$SIO_PUBLISH publish-API broadcasts/s to every client, $SIO_CHURN short-lived client(s)/s."
  echo
  echo "## RSS samples (every ${SAMPLE_SECONDS} s)"
  echo
  echo "| t (s) | RSS (MB) | Crossgate CPU % | threads | fds | |"
  echo "| ---: | ---: | ---: | ---: | ---: | --- |"
  awk -F'\t' -v w="$WARMUP_SECONDS" 'NR > 1 { printf "| %d | %.1f | %.0f | %d | %d | %s |\n", $1, $2 / 1024, $3, $4, $5, ($1 < w ? "warm-up" : "") }' "$samples"
  echo
  echo "## Run"
  echo
  echo "- machine load average (1, 5, 15 min) at the start: $loadavg_start; at the end: $(cut -d' ' -f1-3 /proc/loadavg) (other processes share the CPUs)"
  echo "- date: $started; machine: nproc $(nproc), $(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo), $(uname -sr)"
  echo "- java: $(java -version 2>&1 | head -n 1); node: $(node --version)"
  echo "- Crossgate: commit $git_rev$( (( git_dirty > 0 )) && echo " plus uncommitted changes in $git_dirty source files") (jar sha256 $jar_sha...)"
  echo "- Crossgate command: \`taskset -c $SUT_CPU java $JAVA_OPTS -jar crossgate.jar serve --config crossgate.yaml\` (the configuration is in the raw file)"
  echo "- command: \`$( (( SOAK_SECONDS != 600 )) && echo "SOAK_SECONDS=$SOAK_SECONDS ")bench/soak.sh\`; raw file: \`bench/results/$(basename "$raw")\`"
} >"$md"
{
  echo "# bench/soak.sh raw output, $started, verdict $overall"
  echo; echo "===== settings of the load"; echo "$settings"
  echo; echo "===== crossgate.yaml"; cat "$tmp/crossgate.yaml"
  echo; echo "===== samples"; cat "$samples"
  echo; echo "===== the load's summary (exit status $load_rc)"; echo "$summary"
  echo; echo "===== the load's progress and stderr"; cat "$tmp/load.err"
  echo; echo "===== the upstream's stderr"; cat "$tmp/upstream.err"
  echo; echo "===== Crossgate stderr"; cat "$tmp/crossgate.err"
  echo; echo "===== LEAK reports in Crossgate's stdout (access log)"; grep -A 40 'LEAK:' "$tmp/crossgate.out" || echo "(none)"
  echo; echo "===== Crossgate metrics after the load (crossgate_*)"; grep '^crossgate_' <<<"$metrics" | head -n 200 || true
} >"$raw"
cat "$md"
[[ $overall == PASS ]]
