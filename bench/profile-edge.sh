#!/usr/bin/env bash
# Where Crossgate's CPU time and allocations go on the hot path (issue 14: "measure first").
#
#   bench/profile-edge.sh            # MODE=get: a proxied GET of a 105-byte JSON response
#   MODE=preflight bench/profile-edge.sh
#
# Crossgate alone on CPU SUT_CPU (as in bench/edge-http.sh's pinned layout), an nginx upstream and wrk on
# LOAD_CPU. After WARMUP of load, `perf record` samples the JVM for SAMPLE seconds (JIT-compiled frames named
# through the perf map the JVM writes at exit, -XX:+DumpPerfMapAtExit), while a Java Flight Recording (JFR,
# profile settings) samples allocations. Writes bench/results/profile-edge-MODE.txt: the top symbols by CPU
# (perf, self time: Java methods, JVM, kernel), the top allocation sites (JFR's jdk.ObjectAllocationSample,
# weighted), and wrk's figures. Everything it starts runs from a temporary directory and is stopped by PID.
#   MODE=get|preflight WARMUP=20 SAMPLE=10 SUT_CPU=0 LOAD_CPU=1 CONNS=50 TOP=45
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MODE="${MODE:-get}" WARMUP="${WARMUP:-20}" SAMPLE="${SAMPLE:-10}" SUT_CPU="${SUT_CPU:-0}" LOAD_CPU="${LOAD_CPU:-1}"
CONNS="${CONNS:-50}" TOP="${TOP:-45}"
log() { echo "profile-edge: $*" >&2; }
die() { log "$*"; exit 1; }
for t in perf wrk nginx java jfr taskset python3; do command -v "$t" >/dev/null 2>&1 || [[ $t == nginx && -x /usr/sbin/nginx ]] || die "needs $t"; done
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
jar="$root/crossgate-server/target/crossgate.jar"
[[ -f $jar ]] || (cd "$root" && mvn -B -q -DskipTests package -pl crossgate-server -am) || die "cannot build $jar"

P_UP=18290 P_CG=18280 ORIGIN="https://app.example.com"
JSON='{"id":42,"name":"widget","price":9.99,"tags":["a","b"],"stock":true,"updated":"2026-01-01T00:00:00Z"}'
tmp="$(mktemp -d /tmp/profile-edge.XXXXXX)"
mkdir -p "$tmp/logs" "$tmp/temp"
pid_up="" pid_cg="" pid_wrk="" pid_perf=""
cleanup() {
  local rc=$?
  set +e
  for p in $pid_perf $pid_wrk $pid_cg $pid_up; do kill -TERM "$p" 2>/dev/null; done
  for p in $pid_perf $pid_wrk $pid_cg $pid_up; do
    for _ in $(seq 100); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null
  done
  rm -rf "$tmp"
  exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cat >"$tmp/upstream.conf" <<NGX
worker_processes 1;
pid $tmp/logs/up.pid;
error_log $tmp/logs/up-error.log warn;
daemon off;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $tmp/temp/body; proxy_temp_path $tmp/temp/proxy; fastcgi_temp_path $tmp/temp/fcgi;
    uwsgi_temp_path $tmp/temp/uwsgi; scgi_temp_path $tmp/temp/scgi;
    keepalive_requests 1000000;
    server { listen 127.0.0.1:$P_UP; location / { default_type application/json; return 200 '$JSON'; } }
}
NGX
cat >"$tmp/crossgate.yaml" <<YAML
profile: prod
listen: 127.0.0.1:$P_CG
upstream: http://127.0.0.1:$P_UP
hosts: ["127.0.0.1"]
admin:
  enabled: false
cors:
  allowedOrigins: [$ORIGIN]
  allowCredentials: true
  allowedMethods: [GET, POST, PUT, DELETE]
  allowedHeaders: [Content-Type, Authorization, X-Requested-With]
  maxAge: 600s
log:
  access: false
YAML
cat >"$tmp/preflight.lua" <<LUA
wrk.method = "OPTIONS"
wrk.headers["Origin"] = "$ORIGIN"
wrk.headers["Access-Control-Request-Method"] = "POST"
wrk.headers["Access-Control-Request-Headers"] = "content-type, authorization"
LUA
taskset -c "$LOAD_CPU" "$NGINX" -p "$tmp" -e "$tmp/logs/up-error.log" -c "$tmp/upstream.conf" &
pid_up=$!
# JFR's profile settings, with exception throws recorded too (a throw on the hot path costs a stack trace).
java_home="$(dirname "$(dirname "$(readlink -f "$(command -v java)")")")"
python3 - "$java_home/lib/jfr/profile.jfc" "$tmp/settings.jfc" <<'PY'
import re, sys
s = open(sys.argv[1]).read()
s = re.sub(r'(<event name="jdk.JavaExceptionThrow">\s*<setting name="enabled"[^>]*>)false', r'\1true', s)
open(sys.argv[2], "w").write(s)
PY
taskset -c "$SUT_CPU" java -XX:+PreserveFramePointer -XX:+UnlockDiagnosticVMOptions -XX:+DumpPerfMapAtExit \
  -XX:StartFlightRecording=settings="$tmp/settings.jfc",filename="$tmp/rec.jfr",dumponexit=true \
  $(grep -v -e '^#' -e '^[[:space:]]*$' "$root/jvm.options") \
  -jar "$jar" serve --config "$tmp/crossgate.yaml" --drain-timeout 1s >/dev/null 2>"$tmp/crossgate.err" &
pid_cg=$!
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$P_CG/" -H 'Host: 127.0.0.1' && break; sleep 0.1; done
url="http://127.0.0.1:$P_CG/api/item" script=()
[[ $MODE == preflight ]] && script=(-s "$tmp/preflight.lua")
log "warm-up: $WARMUP s of $MODE"
taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"${WARMUP}s" "${script[@]}" -H 'Host: 127.0.0.1' -H "Origin: $ORIGIN" "$url" >/dev/null
log "measuring: $((SAMPLE + 4)) s of load, perf on the JVM for $SAMPLE s"
taskset -c "$LOAD_CPU" wrk -t1 -c"$CONNS" -d"$((SAMPLE + 4))s" --latency "${script[@]}" -H 'Host: 127.0.0.1' -H "Origin: $ORIGIN" "$url" >"$tmp/wrk.out" &
pid_wrk=$!
sleep 2
perf record -F 1999 -g -p "$pid_cg" -o "$tmp/perf.data" -- sleep "$SAMPLE" 2>"$tmp/perf.err" >/dev/null || die "perf record failed: $(cat "$tmp/perf.err")"
wait "$pid_wrk"; pid_wrk=""
kill -TERM "$pid_cg"; wait "$pid_cg" || true; pid_cg=""   # writes the perf map and the recording
out="$root/bench/results/profile-edge-$MODE.txt"
{
  echo "# bench/profile-edge.sh MODE=$MODE ($(date -u +%Y-%m-%dT%H:%MZ), commit $(git -C "$root" rev-parse --short HEAD))"
  echo "# Crossgate on CPU $SUT_CPU alone; wrk -t1 -c$CONNS and the nginx upstream on CPU $LOAD_CPU"
  echo; echo "## wrk"; cat "$tmp/wrk.out"
  echo; echo "## CPU: top $TOP symbols by self time (perf, $SAMPLE s at 1999 Hz)"
  perf report -i "$tmp/perf.data" --no-children --sort sym --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -"$TOP" || true
  echo; echo "## Inclusive time of the request path's parts (perf --children, call graphs through frame pointers)"
  perf report -i "$tmp/perf.data" --children --sort sym --stdio -g none 2>/dev/null | grep -E '^ +[0-9]' \
    | grep -E 'dev\.crossgate\.|HttpObjectDecoder\.decode|HttpObjectEncoder\.(write|encode)|ByteToMessageDecoder\.channelRead|epollInReady|writevAddresses|EpollIoHandler\.run|\[k\] (tcp_sendmsg|tcp_recvmsg|__x64_sys_epoll_wait|do_writev|__sys_recvfrom)' \
    | head -60 || true
  echo; echo "## CPU by area (perf, self time)"
  perf report -i "$tmp/perf.data" --no-children --sort dso --stdio 2>/dev/null | grep -E '^ +[0-9]' | head -12 || true
  echo; echo "## Allocations: top sites (JFR jdk.ObjectAllocationSample, weight = bytes the sample stands for)"
  jfr print --events jdk.ObjectAllocationSample --stack-depth 4 "$tmp/rec.jfr" >"$tmp/alloc.txt" || true
  python3 - "$tmp/alloc.txt" <<'PY'
import sys, re, collections
w = collections.Counter(); cls = None; frames = []; weight = 0
def flush():
    if cls: w[(cls, " < ".join(frames[:3]))] += weight
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("jdk.ObjectAllocationSample"):
        flush(); cls = None; frames = []; weight = 0
    elif line.startswith("objectClass ="):
        cls = line.split("=", 1)[1].strip().split(" ")[0]
    elif line.startswith("weight ="):
        v = line.split("=", 1)[1].strip(); n = float(re.match(r"[0-9.]+", v).group())
        weight = n * {"bytes": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9}.get(v.split()[-1], 1)
    elif re.match(r"[\w$.]+\(.*line:", line):
        frames.append(re.sub(r"\s+line:.*", "", line))
flush()
total = sum(w.values()) or 1
print(f"total sampled weight: {total/1e6:.0f} MB")
for (c, f), v in w.most_common(30):
    print(f"{100*v/total:5.1f}%  {c}  at {f}")
PY
  echo; echo "## Exceptions thrown (JFR jdk.JavaExceptionThrow, the whole run): count by class and thrower"
  jfr print --events jdk.JavaExceptionThrow --stack-depth 6 "$tmp/rec.jfr" >"$tmp/exc.txt" || true
  python3 - "$tmp/exc.txt" <<'PY'
import sys, re, collections
c = collections.Counter(); cls = None; frames = []
def flush():
    if cls: c[(cls, " < ".join(f for f in frames if "Throwable" not in f and "Exception.<init>" not in f)[:300])] += 1
for line in open(sys.argv[1]):
    line = line.strip()
    if line.startswith("jdk.JavaExceptionThrow"):
        flush(); cls = None; frames = []
    elif line.startswith("thrownClass ="):
        cls = line.split("=", 1)[1].strip().split(" ")[0]
    elif re.match(r"[\w$.]+\(.*line:", line):
        frames.append(re.sub(r"\s+line:.*", "", line))
flush()
print(f"total: {sum(c.values())}")
for (k, f), v in c.most_common(10):
    print(f"{v:8d}  {k}  at {f}")
PY
} >"$out"
log "wrote $out"
