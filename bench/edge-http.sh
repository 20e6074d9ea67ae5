#!/usr/bin/env bash
# Edge HTTP benchmark: Crossgate against nginx and HAProxy, in the same run, on loopback (issue 14).
#
#   bench/edge-http.sh
#
# (a) CORS preflights answered at the edge: Crossgate against nginx answering them from a `map` of
#     allowed origins (the peer setup in ../shared/peers/nginx-baseline.conf.tmpl) and HAProxy answering
#     them with `http-request return` from a `map_str` of the same origins, both with the same response
#     headers as Crossgate sends. Closed loop, wrk: requests/s and latency at saturation.
# (b) A proxied GET of a 105-byte JSON response from a small upstream (nginx `return 200`): direct to a
#     server of that response, via nginx (reverse proxy with an upstream keep-alive pool), via HAProxy
#     (`http-reuse always`, keep-alive), via Crossgate. Closed loop, wrk, as (a).
# (c) Latency the edge adds at a fixed moderate rate: the proxied GET of (b) under an open-loop load of
#     RATE requests/s (bench/http-openloop.c, built here with cc: latency from each request's intended
#     send time, so free of coordinated omission; LAT_CONNS keep-alive connections, no pipelining), direct
#     to the upstream, via nginx, via HAProxy, via Crossgate; p50, p90, p99, p99.9 and, per percentile,
#     what each edge adds (via X minus direct).
# Targets of issue 14, printed as met / not met: preflights, Crossgate >= 1.1x the req/s of the faster
# of nginx and HAProxy; proxied GET, Crossgate >= 1.0x the faster; for both, Crossgate's p99 no higher
# than either's.
#
# CPU budget (2-core machine): the server under test gets CPU 0 alone, pinned with taskset. That is
# nginx with worker_processes 1, HAProxy with nbthread 1, and the whole Crossgate JVM (event loops, GC,
# JIT, access-log thread); pinned to one CPU the JVM sees 1 processor, so Crossgate starts 1 worker event
# loop (one per processor) plus 1 acceptor; it runs with the launcher's jvm.options (G1, leak detection off). wrk (-t1) or the open-loop
# client, and the upstream nginx (1 worker) share CPU 1. "direct" in (b) is a separate server block of
# the nginx under test (also CPU 0), so that direct and via-proxy give the server on CPU 0 the same
# budget; "direct" in (c) is the upstream itself, so that via X minus direct is the cost of the hop.
#
# Each target gets a warm-up, then RUNS rounds of every target in turn (interleaved, so that a drift of
# the machine hits every target alike); the tables show medians. (c) follows (b) the same way: a LAT_WARMUP
# run of each of its targets, then LAT_RUNS interleaved rounds. Before every measured run the script
# waits (up to QUIET_MAX seconds) for other processes on the machine to be quiet for 2 s, and it records
# how much CPU processes other than its own used during each run ("foreign"); a run with too much of it
# is repeated.
#
# Writes bench/results/edge-http.md (the tables) and bench/results/edge-http-raw.txt (curl checks and
# every wrk and client output). Installs nginx-light (or nginx), haproxy, wrk and gcc with apt-get when
# missing. Everything it starts runs from a temporary directory and is stopped by PID on exit.
# Crossgate's access log is off (log.access: false), as are nginx's (access_log off) and HAProxy's (no
# log line). Knobs, as environment variables:
#   RUNS=3 DURATION=10s WARMUP=20s CONNS=50 THREADS=1 SUT_CPU=0 LOAD_CPU=1      (a) and (b), wrk
#   LATENCY=1 RATE=20000 LAT_CONNS=50 LAT_RUNS=RUNS LAT_DURATION=10s LAT_WARMUP=10s  (c); LATENCY=0 skips it.
#                               Each measured (c) run also starts with 1 s that is not recorded.
#   LAYOUT=pinned (above) or LAYOUT=shared: nothing pinned apart (SUT_CPU and LOAD_CPU both every CPU),
#                               the method of the reference figures quoted in the issue (nginx with one
#                               worker, HAProxy with one thread; Crossgate on its defaults, free to use every
#                               core, as are wrk and the upstream); results go to edge-http-shared.* unless
#                               RESULTS_NAME is set
#   The warm-up is long because on one CPU the JIT's C2 thread preempts the event loop in 2-5 ms slices
#   while it still compiles (measured still active 30 s into a preflight load), which is JVM start-up
#   cost, not the steady state this benchmark compares.
#   WARMUP_SPLIT=4: each target's warm-up is that many wrk runs of WARMUP/WARMUP_SPLIT, each with 50 new
#                               connections. With one long run the JIT compiles a profile in which no
#                               connection ever opens or closes; every measured run starts by opening 50 and
#                               ends by closing them, and those paths then hit uncommon traps that throw away
#                               the compiled event loop (Netty's EpollIoHandler.run with the whole request
#                               path inlined, 0.4 s of C2 to recompile, on the server's only CPU). Measured
#                               with -Xlog:deoptimization and LogCompilation: C2 time in a 10 s preflight run
#                               after the warm-up 710 ms (one 20 s run) against 180 ms (five 4 s runs), p99
#                               5.0 against 3.1 ms. Production traffic opens and closes connections all the
#                               time, so this is the steadier state, and nginx and HAProxy get the same runs.
#   QUIET_MAX=120 FOREIGN_MAX=20 RETRIES=3  (a measured run during which other processes used more than
#   FOREIGN_MAX % of a CPU is discarded and repeated, up to RETRIES times; the raw file keeps it)
#   CROSSGATE_JAVA_OPTS="..."   extra JVM options for Crossgate (none by default), for example
#                               -Dio.netty.eventLoopThreads=1 for one worker event loop
#   RESULTS_NAME=edge-http      the results files' name (for a variant: edge-http-1loop, ...)
# Run it on an otherwise idle machine; with the defaults it takes 11 to 12 minutes (8 wrk targets x
# (20 s + 3 x 10 s), 4 latency targets x (10 s + 3 x 11 s), and the quiet waits).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

RUNS="${RUNS:-3}"
DURATION="${DURATION:-10s}"
WARMUP="${WARMUP:-20s}"
LAYOUT="${LAYOUT:-pinned}"
CONNS="${CONNS:-50}"
THREADS="${THREADS:-1}"
case $LAYOUT in
  pinned) SUT_CPU="${SUT_CPU:-0}"; LOAD_CPU="${LOAD_CPU:-1}" ;;
  shared) SUT_CPU="0-$(( $(nproc) - 1 ))"; LOAD_CPU="$SUT_CPU" ;;
  *) echo "edge-http: LAYOUT=$LAYOUT: use pinned or shared" >&2; exit 2 ;;
esac
QUIET_MAX="${QUIET_MAX:-120}"
FOREIGN_MAX="${FOREIGN_MAX:-20}"
RETRIES="${RETRIES:-3}"
JAVA_OPTS_EXTRA="${CROSSGATE_JAVA_OPTS:-}"
LATENCY="${LATENCY:-1}"
RATE="${RATE:-20000}"
LAT_CONNS="${LAT_CONNS:-50}"
LAT_RUNS="${LAT_RUNS:-$RUNS}"
LAT_DURATION="${LAT_DURATION:-10s}"
LAT_WARMUP="${LAT_WARMUP:-10s}"
WARMUP_SPLIT="${WARMUP_SPLIT:-4}"
[[ $WARMUP_SPLIT =~ ^[1-9][0-9]*$ ]] || { echo "edge-http: WARMUP_SPLIT takes a whole number >= 1" >&2; exit 2; }
secs() {  # 10s, 10 or 1m -> seconds
  case $1 in *m) echo $(( ${1%m} * 60 )) ;; *s) echo "${1%s}" ;; *) echo "$1" ;; esac
}
[[ $(secs "$LAT_DURATION") =~ ^[0-9]+$ && $(secs "$LAT_WARMUP") =~ ^[0-9]+$ && $RATE =~ ^[0-9]+$ && $LAT_CONNS =~ ^[0-9]+$ ]] \
  || { echo "edge-http: RATE, LAT_CONNS, LAT_DURATION and LAT_WARMUP take whole numbers (seconds: 10s, 10 or 1m)" >&2; exit 2; }

P_NGX_CORS=18081   # nginx under test: preflights
P_CG=18082         # Crossgate
P_UP=18090         # upstream nginx (CPU 1)
P_NGX_PROXY=18091  # nginx under test: reverse proxy to the upstream
P_NGX_DIRECT=18092 # nginx under test: the upstream's response served directly
P_CG_ADMIN=18083   # Crossgate's admin listener (metrics, health), left on as by default
P_HAP_CORS=18084   # HAProxy under test: preflights
P_HAP_PROXY=18093  # HAProxy under test: reverse proxy to the upstream

name="${RESULTS_NAME:-$([[ $LAYOUT == shared ]] && echo edge-http-shared || echo edge-http)}"
md="bench/results/$name.md"
raw="bench/results/$name-raw.txt"
ORIGIN=https://app.example.com
JSON='{"id":12345,"name":"edge-gateway-baseline","status":"ok","items":[1,2,3,4,5],"ts":"2024-01-01T00:00:00Z"}'

log() { echo "edge-http: $*" >&2; }
die() { log "$*"; exit 1; }

# ------------------------------------------------------------------ tools
have_nginx() { command -v nginx >/dev/null 2>&1 || [[ -x /usr/sbin/nginx ]]; }
have_haproxy() { command -v haproxy >/dev/null 2>&1 || [[ -x /usr/sbin/haproxy ]]; }
missing=()
have_nginx || missing+=(nginx)
have_haproxy || missing+=(haproxy)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v cc >/dev/null 2>&1 || missing+=(gcc libc6-dev)
if (( ${#missing[@]} )); then
  [[ $(id -u) == 0 ]] || die "${missing[*]} missing and installing them needs root"
  log "installing ${missing[*]} (apt-get)"
  apt-get update -qq
  if [[ ${missing[0]} == nginx ]]; then
    apt-cache show nginx-light >/dev/null 2>&1 && missing[0]=nginx-light
  fi
  # Without an init (a container) Debian's packages start no service; elsewhere the services they may
  # start do not use this benchmark's ports.
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX="$(command -v nginx || echo /usr/sbin/nginx)"
HAPROXY="$(command -v haproxy || echo /usr/sbin/haproxy)"
for t in wrk curl taskset java ss awk cc; do
  command -v "$t" >/dev/null || die "$t is not on the PATH"
done
nprocs="$(nproc)"
(( nprocs >= 2 )) || die "needs 2 CPUs (server under test on one, wrk and the upstream on the other); this machine has $nprocs"

for p in $P_NGX_CORS $P_CG $P_CG_ADMIN $P_UP $P_NGX_PROXY $P_NGX_DIRECT $P_HAP_CORS $P_HAP_PROXY; do
  if [[ -n "$(ss -Hltn "sport = :$p")" ]]; then
    die "port 127.0.0.1:$p is already in use: $(ss -Hltnp "sport = :$p" | head -n 1)"
  fi
done

# ------------------------------------------------------------------ Crossgate jar
# ./crossgate builds the jar when it is missing or older than the sources. The jar is copied so that a
# rebuild by someone else during the run cannot change the classes under the running JVM.
log "building Crossgate when needed"
"$root/crossgate" --version >/dev/null || die "building Crossgate failed"
jar_src="$root/crossgate-server/target/crossgate.jar"
[[ -f $jar_src ]] || die "$jar_src is missing after the build"

tmp="$(mktemp -d /tmp/edge-http.XXXXXX)"
mkdir -p "$tmp/nginx/logs" "$tmp/nginx/temp" "$tmp/wrk" "$tmp/haproxy"
cp "$jar_src" "$tmp/crossgate.jar"
jar_sha="$(sha256sum "$tmp/crossgate.jar" | cut -c1-12)"
git_rev="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
git_dirty="$(git -C "$root" status --porcelain -- crossgate-cors/src crossgate-server/src pom.xml crossgate-cors/pom.xml crossgate-server/pom.xml 2>/dev/null | wc -l)"

# The load CPUs as a list of numbers ("1", or "0 1" for 0-1), for the busy-CPU column.
load_cpu_list="$(awk -v s="$LOAD_CPU" 'BEGIN { n = split(s, p, ","); for (i = 1; i <= n; i++) {
  if (split(p[i], r, "-") == 2) for (c = r[1]; c <= r[2]; c++) printf "%d ", c; else printf "%d ", p[i] } }')"

# ------------------------------------------------------------------ processes and cleanup
pids_up=() pids_ngx=() pids_hap=() pid_cg="" pid_wrk=""
cleanup() {
  local rc=$?
  set +e
  [[ -n $pid_wrk ]] && kill "$pid_wrk" 2>/dev/null
  [[ -n $pid_cg ]] && kill -TERM "$pid_cg" 2>/dev/null
  for p in "${pids_ngx[@]}" "${pids_hap[@]}" "${pids_up[@]}"; do kill -TERM "$p" 2>/dev/null; done
  for p in $pid_cg "${pids_ngx[@]}" "${pids_hap[@]}" "${pids_up[@]}" $pid_wrk; do
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
nginx_common() {  # $1 = name
  cat <<EOF
worker_processes 1;
pid $tmp/nginx/logs/$1.pid;
error_log $tmp/nginx/logs/$1-error.log warn;
daemon off;
events {
    worker_connections 4096;
    use epoll;
}
EOF
}
nginx_http_common() {
  cat <<EOF
    access_log off;
    client_body_temp_path $tmp/nginx/temp/body;
    proxy_temp_path       $tmp/nginx/temp/proxy;
    fastcgi_temp_path     $tmp/nginx/temp/fastcgi;
    uwsgi_temp_path       $tmp/nginx/temp/uwsgi;
    scgi_temp_path        $tmp/nginx/temp/scgi;
    # benchmark setting: do not recycle client keep-alive connections every 1000 requests
    keepalive_requests 1000000;
    keepalive_timeout 65s;
    server_tokens off;
EOF
}

# The upstream: one nginx worker on CPU 1 returning the fixed JSON.
{
  nginx_common upstream
  echo "http {"
  nginx_http_common
  cat <<EOF
    server {
        listen 127.0.0.1:$P_UP reuseport backlog=4096;
        location / {
            default_type application/json;
            return 200 '$JSON';
        }
    }
}
EOF
} >"$tmp/nginx/upstream.conf"

# The nginx under test: one worker on CPU 0. Its preflight answer carries the headers Crossgate sends
# for the same policy (credentials, the configured methods and headers, max age, Vary, no-store and a
# request id) so that both write responses of the same size; like the reference setup it does not
# check the requested method and headers (Crossgate does).
{
  nginx_common sut
  echo "http {"
  nginx_http_common
  cat <<EOF

    # (a) CORS preflight: echo the Origin only when it is on the allow-list, else empty (header omitted)
    map \$http_origin \$cors_allow_origin {
        default                      "";
        "$ORIGIN"                    \$http_origin;
    }
    map \$http_origin \$cors_allow_credentials {
        default                      "";
        "$ORIGIN"                    "true";
    }
    server {
        listen 127.0.0.1:$P_NGX_CORS reuseport backlog=4096;
        location / {
            if (\$request_method = OPTIONS) {
                add_header Cache-Control                    no-store always;
                add_header Access-Control-Allow-Origin      \$cors_allow_origin always;
                add_header Access-Control-Allow-Credentials \$cors_allow_credentials always;
                add_header Access-Control-Allow-Methods     "GET, POST, PUT, DELETE" always;
                add_header Access-Control-Allow-Headers     "Content-Type, Authorization, X-Requested-With" always;
                add_header Access-Control-Max-Age           600 always;
                add_header Vary                             "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" always;
                add_header X-Request-Id                     \$request_id always;
                return 204;
            }
            default_type application/json;
            return 200 '{"ok":true}';
        }
    }

    # (b) reverse proxy with a keep-alive pool to the upstream
    upstream backend {
        server 127.0.0.1:$P_UP;
        keepalive 128;
        keepalive_requests 1000000;
        keepalive_timeout 60s;
    }
    server {
        listen 127.0.0.1:$P_NGX_PROXY reuseport backlog=4096;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header Host \$host;
            proxy_buffering on;
        }
    }

    # (b) direct: the upstream's response, served by this process (same CPU budget as the proxies)
    server {
        listen 127.0.0.1:$P_NGX_DIRECT reuseport backlog=4096;
        location / {
            default_type application/json;
            return 200 '$JSON';
        }
    }
}
EOF
} >"$tmp/nginx/sut.conf"

# The HAProxy under test: one thread on CPU 0, no log. (a) answers preflights itself, from a map of the
# same allowed origins as nginx's, with the same headers as nginx and Crossgate (HAProxy writes header
# names in lower case, as HTTP/1.1 allows); like nginx it does not check the requested method and
# headers. X-Request-Id: 32 random hex digits, as nginx's $request_id. (b) reverse proxy to the same
# upstream with a keep-alive pool (http-reuse always; idle connections kept 60 s, as nginx's pool).
printf '%s %s\n' "$ORIGIN" "$ORIGIN" >"$tmp/haproxy/origins.map"
hap_cors_common="hdr Cache-Control no-store"
hap_cors_rest='hdr Access-Control-Allow-Methods "GET, POST, PUT, DELETE" hdr Access-Control-Allow-Headers "Content-Type, Authorization, X-Requested-With" hdr Access-Control-Max-Age 600 hdr Vary "Origin, Access-Control-Request-Method, Access-Control-Request-Headers" hdr X-Request-Id "%[rand,htonl,hex,lower]%[rand,htonl,hex,lower]%[rand,htonl,hex,lower]%[rand,htonl,hex,lower]"'
cat >"$tmp/haproxy/sut.cfg" <<EOF
global
    nbthread 1
    maxconn 8192
    # no "log" line: HAProxy logs nothing, as nginx runs with access_log off

defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 65s
    timeout server 60s
    timeout http-request 10s
    timeout http-keep-alive 65s

# (a) CORS preflight: echo the Origin only when it is in the map, else omit the two headers that allow it
frontend preflight
    bind 127.0.0.1:$P_HAP_CORS
    http-request set-var(txn.cors_origin) req.fhdr(origin),map_str($tmp/haproxy/origins.map)
    http-request return status 204 $hap_cors_common hdr Access-Control-Allow-Origin "%[var(txn.cors_origin)]" hdr Access-Control-Allow-Credentials true $hap_cors_rest if METH_OPTIONS { var(txn.cors_origin) -m found }
    http-request return status 204 $hap_cors_common $hap_cors_rest if METH_OPTIONS
    http-request return status 200 content-type application/json string '{"ok":true}'

# (b) reverse proxy with a keep-alive pool to the upstream
frontend proxy
    bind 127.0.0.1:$P_HAP_PROXY
    default_backend upstream

backend upstream
    http-reuse always
    server up 127.0.0.1:$P_UP pool-purge-delay 60s
EOF

cat >"$tmp/crossgate.yaml" <<EOF
profile: prod
listen: 127.0.0.1:$P_CG
upstream: http://127.0.0.1:$P_UP
hosts: ["127.0.0.1"]
cors:
  allowedOrigins: [$ORIGIN]
  allowCredentials: true
  allowedMethods: [GET, POST, PUT, DELETE]
  allowedHeaders: [Content-Type, Authorization, X-Requested-With]
  maxAge: 600s
# nginx runs with access_log off; so does Crossgate here (log.access), for the same work per request.
log:
  access: false
EOF
# The admin listener (on by default, 127.0.0.1:9090) is kept on, on a port of the benchmark's own; a
# build without it refuses the key, and then runs without the section.
cp "$tmp/crossgate.yaml" "$tmp/crossgate-no-admin.yaml"
printf 'admin:\n  listen: 127.0.0.1:%s\n' "$P_CG_ADMIN" >>"$tmp/crossgate.yaml"
if ! java -jar "$tmp/crossgate.jar" check --config "$tmp/crossgate.yaml" >"$tmp/check.out" 2>&1; then
  if java -jar "$tmp/crossgate.jar" check --config "$tmp/crossgate-no-admin.yaml" >/dev/null 2>&1; then
    cp "$tmp/crossgate-no-admin.yaml" "$tmp/crossgate.yaml"
  else
    cat "$tmp/check.out" >&2; die "crossgate check refuses the benchmark's configuration"
  fi
fi

cat >"$tmp/wrk/preflight.lua" <<EOF
-- CORS preflight: OPTIONS with Origin and Access-Control-Request-* (a browser's POST with a JSON body and a token)
wrk.method = "OPTIONS"
wrk.headers["Origin"] = "$ORIGIN"
wrk.headers["Access-Control-Request-Method"] = "POST"
wrk.headers["Access-Control-Request-Headers"] = "content-type, authorization"
EOF

# The open-loop client of (c)
cc -O2 -Wall -o "$tmp/http-openloop" "$root/bench/http-openloop.c" || die "building bench/http-openloop.c failed"

# ------------------------------------------------------------------ start
for n in upstream sut; do
  "$NGINX" -t -q -p "$tmp/nginx" -e "$tmp/nginx/logs/$n-error.log" -c "$tmp/nginx/$n.conf" \
    || die "nginx rejects $tmp/nginx/$n.conf"
done
"$HAPROXY" -c -q -f "$tmp/haproxy/sut.cfg" || die "haproxy rejects $tmp/haproxy/sut.cfg"
taskset -c "$LOAD_CPU" "$NGINX" -p "$tmp/nginx" -e "$tmp/nginx/logs/upstream-error.log" -c "$tmp/nginx/upstream.conf" &
pids_up+=($!)
taskset -c "$SUT_CPU" "$NGINX" -p "$tmp/nginx" -e "$tmp/nginx/logs/sut-error.log" -c "$tmp/nginx/sut.conf" &
pids_ngx+=($!)
# -db: in the foreground, not forked, so that $! is HAProxy itself (and stderr is its only output)
taskset -c "$SUT_CPU" "$HAPROXY" -db -f "$tmp/haproxy/sut.cfg" 2>"$tmp/haproxy/stderr.log" &
pids_hap+=($!)
# shellcheck disable=SC2206
# As the launcher (./crossgate, bin/crossgate) runs it: with the options of jvm.options, then CROSSGATE_JAVA_OPTS.
mapfile -t jvm_options < <(grep -v -e '^#' -e '^[[:space:]]*$' "$root/jvm.options")
java_cmd=(java "${jvm_options[@]}" $JAVA_OPTS_EXTRA -jar "$tmp/crossgate.jar" serve --config "$tmp/crossgate.yaml" --drain-timeout 2s)
taskset -c "$SUT_CPU" "${java_cmd[@]}" >/dev/null 2>"$tmp/crossgate.err" &
pid_cg=$!

wait_port() {  # port pid
  for _ in $(seq 200); do
    curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1/" && return 0
    if ! kill -0 "$2" 2>/dev/null; then
      tail -n 20 "$tmp/crossgate.err" "$tmp"/nginx/logs/*-error.log "$tmp/haproxy/stderr.log" >&2 2>/dev/null
      die "the process for port $1 (pid $2) exited (KEEP_TMP=1 keeps $tmp)"
    fi
    sleep 0.1
  done
  die "nothing answers on 127.0.0.1:$1 after 20 s"
}
wait_port $P_UP "${pids_up[0]}"
wait_port $P_NGX_CORS "${pids_ngx[0]}"
wait_port $P_HAP_CORS "${pids_hap[0]}"
wait_port $P_HAP_PROXY "${pids_hap[0]}"
wait_port $P_CG "$pid_cg"

# ------------------------------------------------------------------ CPU accounting
HZ="$(getconf CLK_TCK)"
children() { local c; for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do echo "$c"; children "$c"; done; }
our_pids() {
  local p
  for p in "${pids_up[@]}" "${pids_ngx[@]}" "${pids_hap[@]}" $pid_cg; do echo "$p"; children "$p"; done
}
jiffies_of() {  # utime+stime of the given pids (every thread), in clock ticks
  local total=0 p v
  for p in "$@"; do
    v="$(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null | awk '{print $12+$13}')" || v=0
    total=$(( total + ${v:-0} ))
  done
  echo "$total"
}
busy_jiffies() {  # busy ticks of all CPUs, and of each CPU: "all cpu0 cpu1 ..."
  awk '/^cpu/ { b = $2+$3+$4+$7+$8+$9; printf "%s ", b } END { print "" }' /proc/stat
}
self_children_jiffies() { sed 's/.*) //' "/proc/$$/stat" | awk '{print $14+$15}'; }

# waits until processes other than ours used under 20% of one CPU during one second
wait_quiet() {
  local waited=0 quiet=0 b0 b1 o0 o1 foreign
  while :; do
    read -r b0 _ < <(busy_jiffies); o0="$(jiffies_of $(our_pids))"
    sleep 1
    read -r b1 _ < <(busy_jiffies); o1="$(jiffies_of $(our_pids))"
    foreign=$(( (b1 - b0) - (o1 - o0) ))
    waited=$(( waited + 1 ))
    if (( foreign * 100 < 20 * HZ )); then
      quiet=$(( quiet + 1 ))
      (( quiet >= 2 )) && { (( waited > 2 )) && log "machine quiet after ${waited}s"; return 0; }
      continue
    fi
    quiet=0
    if (( waited == 1 )); then log "waiting for other processes to quiet down (up to ${QUIET_MAX}s; they use $(( foreign * 100 / HZ ))% of a CPU)"; fi
    if (( waited >= QUIET_MAX )); then log "machine still busy after ${QUIET_MAX}s; measuring anyway (see the foreign CPU column)"; quiet_timeouts=$(( quiet_timeouts + 1 )); return 0; fi
  done
}
quiet_timeouts=0

# ------------------------------------------------------------------ raw file: versions and curl checks
mkdir -p bench/results
started="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
java_version="$(java -version 2>&1)"
nginx_version="$("$NGINX" -v 2>&1)"
haproxy_version="$("$HAPROXY" -v 2>&1 | sed -n 1p)"
wrk_version="$(wrk -v 2>&1 | head -n 1 || true)"
cpu_model="$(LC_ALL=C lscpu 2>/dev/null | sed -n 's/^Model name: *//p' | head -n 1 || true)"
cg_threads() { jcmd "$pid_cg" Thread.print 2>/dev/null | grep -o '^"[^"]*"' | tr -d '"'; }
cg_gc="$(jcmd "$pid_cg" VM.flags 2>/dev/null | tr ' ' '\n' | grep -E '^-XX:\+Use.*GC$' | head -n 1 || true)"
cg_heap="$(jcmd "$pid_cg" VM.flags 2>/dev/null | tr ' ' '\n' | grep -E '^-XX:MaxHeapSize=' | sed 's/.*=//' || true)"
cg_nproc="$(taskset -c "$SUT_CPU" nproc)"  # the JVM counts the CPUs of its affinity mask the same way
printf -v java_cmdline '%q ' taskset -c "$SUT_CPU" "${java_cmd[@]}"
java_cmdline="${java_cmdline% }"

preflight_curl() { curl -sS -i --max-time 5 -X OPTIONS -H "Origin: $ORIGIN" -H 'Access-Control-Request-Method: POST' \
                     -H 'Access-Control-Request-Headers: content-type, authorization' "http://127.0.0.1:$1/api/resource"; }
get_curl() { curl -sS -i --max-time 5 "http://127.0.0.1:$1/api/item"; }
status_of() { head -n 1 | awk '{print $2}'; }

{
  echo "# bench/edge-http.sh raw output, $started"
  echo "# machine: nproc $nprocs, ${cpu_model:-unknown CPU}, $(uname -srm)"
  echo "# $nginx_version; $haproxy_version; $wrk_version; $(cc --version | sed -n 1p)"
  echo "$java_version" | sed 's/^/# /'
  echo "# Crossgate: $git_rev (uncommitted changes in its sources/poms: $git_dirty files), jar sha256 $jar_sha"
  echo "# Crossgate command: $java_cmdline >/dev/null"
  echo "# Crossgate JVM on CPU $SUT_CPU: $cg_nproc active processor(s), ${cg_gc:-?}, max heap ${cg_heap:-?} bytes"
  echo
  echo "===== nginx under test (CPU $SUT_CPU): $tmp/nginx/sut.conf"; cat "$tmp/nginx/sut.conf"
  echo; echo "===== HAProxy under test (CPU $SUT_CPU): $tmp/haproxy/sut.cfg"; cat "$tmp/haproxy/sut.cfg"
  echo; echo "===== HAProxy's map $tmp/haproxy/origins.map"; cat "$tmp/haproxy/origins.map"
  echo; echo "===== upstream nginx (CPU $LOAD_CPU): $tmp/nginx/upstream.conf"; cat "$tmp/nginx/upstream.conf"
  echo; echo "===== Crossgate: $tmp/crossgate.yaml"; cat "$tmp/crossgate.yaml"
  echo; echo "===== wrk script $tmp/wrk/preflight.lua"; cat "$tmp/wrk/preflight.lua"
} >"$raw"

check_fail=""
check() {  # title port kind(preflight|get) expected-status
  local out st
  out="$( if [[ $3 == preflight ]]; then preflight_curl "$2"; else get_curl "$2"; fi 2>&1 )" || true
  st="$(status_of <<<"$out")"
  { echo; echo "===== curl check: $1 (expected $4)"; echo "$out" | tr -d '\r'; echo; } >>"$raw"
  if [[ $st != "$4" ]]; then check_fail+="$1: status ${st:-none}, expected $4; "; fi
  if [[ $3 == preflight ]] && ! grep -qi "^access-control-allow-origin: $ORIGIN" <<<"$(tr -d '\r' <<<"$out")"; then
    check_fail+="$1: no Access-Control-Allow-Origin; "
  fi
  if [[ $3 == get ]] && ! grep -qF "$JSON" <<<"$out"; then check_fail+="$1: body is not the upstream's JSON; "; fi
}
check "(a) preflight, nginx :$P_NGX_CORS" $P_NGX_CORS preflight 204
check "(a) preflight, HAProxy :$P_HAP_CORS" $P_HAP_CORS preflight 204
check "(a) preflight, Crossgate :$P_CG" $P_CG preflight 204
check "(b) GET direct, nginx :$P_NGX_DIRECT" $P_NGX_DIRECT get 200
check "(b) GET direct, upstream :$P_UP" $P_UP get 200
check "(b) GET via nginx :$P_NGX_PROXY" $P_NGX_PROXY get 200
check "(b) GET via HAProxy :$P_HAP_PROXY" $P_HAP_PROXY get 200
check "(b) GET via Crossgate :$P_CG" $P_CG get 200
[[ -z $check_fail ]] || die "a curl check failed before benchmarking: $check_fail(see $raw)"
log "curl checks passed (responses in $raw)"

# Do the three edges answer a preflight with the same headers? Names compared without case, values
# exactly, apart from X-Request-Id's random value (its length is shown); Server, Date and Connection,
# which only some edges write, are listed apart.
pf_headers() {  # port -> "name: value" lines, sorted
  preflight_curl "$1" 2>/dev/null | tr -d '\r' | sed -n '2,/^$/p' | grep -v '^$' |
    awk '{ i = index($0, ":"); n = tolower(substr($0, 1, i - 1)); v = substr($0, i + 1); sub(/^[ \t]+/, "", v)
           if (n == "x-request-id") v = "(random, " length(v) " characters)"; print n ": " v }' | sort
}
pf_h_nginx="$(pf_headers $P_NGX_CORS)"; pf_h_hap="$(pf_headers $P_HAP_CORS)"; pf_h_cg="$(pf_headers $P_CG)"
pf_common() { grep -vE '^(server|date|connection|x-request-id):' <<<"$1" || true; }
pf_extra() { { grep -E '^(server|date|connection):' <<<"$1" || true; } | sed 's/:.*//' | paste -sd, - | sed 's/,/, /g'; }
pf_same=yes
[[ "$(pf_common "$pf_h_nginx")" == "$(pf_common "$pf_h_cg")" && "$(pf_common "$pf_h_hap")" == "$(pf_common "$pf_h_cg")" ]] || pf_same=no
pf_rid() { { grep '^x-request-id:' <<<"$1" || echo "x-request-id: (random, no)"; } | sed 's/.*(random, //; s/ characters)//'; }
pf_extra_n="$(pf_extra "$pf_h_nginx")"; pf_extra_h="$(pf_extra "$pf_h_hap")"; pf_extra_c="$(pf_extra "$pf_h_cg")"
{
  echo; echo "===== preflight headers compared (lower-case names; X-Request-Id's value replaced by its length)"
  for e in "nginx|$pf_h_nginx" "HAProxy|$pf_h_hap" "Crossgate|$pf_h_cg"; do echo "--- ${e%%|*}"; echo "${e#*|}"; done
  echo "# same headers apart from server, date, connection and the request id's value: $pf_same"
  if [[ $pf_same == no ]]; then
    echo "--- nginx against Crossgate"; diff <(pf_common "$pf_h_nginx") <(pf_common "$pf_h_cg") || true
    echo "--- HAProxy against Crossgate"; diff <(pf_common "$pf_h_hap") <(pf_common "$pf_h_cg") || true
  fi
} >>"$raw"
# A preflight from an origin not allowed must not be allowed by any edge (the status may differ:
# nginx and HAProxy answer 204 without Access-Control-Allow-Origin, Crossgate refuses with a reason).
for e in "nginx|$P_NGX_CORS" "HAProxy|$P_HAP_CORS" "Crossgate|$P_CG"; do
  out="$(curl -sS -i --max-time 5 -X OPTIONS -H 'Origin: https://evil.example.net' -H 'Access-Control-Request-Method: POST' \
           "http://127.0.0.1:${e#*|}/api/resource" 2>&1 | tr -d '\r')" || true
  { echo; echo "===== curl check: (a) preflight from an origin not allowed, ${e%%|*} :${e#*|} (expected no Access-Control-Allow-Origin)"; echo "$out"; } >>"$raw"
  if grep -qi '^access-control-allow-origin:' <<<"$out"; then die "${e%%|*} allows a preflight from https://evil.example.net (see $raw)"; fi
done

# ------------------------------------------------------------------ wrk runs
# id|group|label|url|script
targets=(
  "pf-nginx|a|nginx, preflight from a map (CPU $SUT_CPU)|http://127.0.0.1:$P_NGX_CORS/api/resource|$tmp/wrk/preflight.lua"
  "pf-haproxy|a|HAProxy, preflight from a map (CPU $SUT_CPU)|http://127.0.0.1:$P_HAP_CORS/api/resource|$tmp/wrk/preflight.lua"
  "pf-cg|a|Crossgate, preflight at the edge (CPU $SUT_CPU)|http://127.0.0.1:$P_CG/api/resource|$tmp/wrk/preflight.lua"
  "get-direct|b|direct: nginx returning the JSON (CPU $SUT_CPU)|http://127.0.0.1:$P_NGX_DIRECT/api/item|"
  "get-upstream|b|direct to the upstream itself (CPU $LOAD_CPU, shared with wrk; for information)|http://127.0.0.1:$P_UP/api/item|"
  "get-nginx|b|via nginx reverse proxy (CPU $SUT_CPU)|http://127.0.0.1:$P_NGX_PROXY/api/item|"
  "get-haproxy|b|via HAProxy reverse proxy (CPU $SUT_CPU)|http://127.0.0.1:$P_HAP_PROXY/api/item|"
  "get-cg|b|via Crossgate (CPU $SUT_CPU)|http://127.0.0.1:$P_CG/api/item|"
)
# (c) at RATE req/s, open loop: id|group|label|port (the proxied GET of (b), /api/item)
lat_targets=(
  "lat-direct|c|direct to the upstream (CPU $LOAD_CPU, with the client)|$P_UP"
  "lat-nginx|c|via nginx (CPU $SUT_CPU)|$P_NGX_PROXY"
  "lat-haproxy|c|via HAProxy (CPU $SUT_CPU)|$P_HAP_PROXY"
  "lat-cg|c|via Crossgate (CPU $SUT_CPU)|$P_CG"
)
wrk_cmd() {  # duration url script
  local c=(taskset -c "$LOAD_CPU" wrk -t"$THREADS" -c"$CONNS" -d"$1" --latency)
  [[ -n $3 ]] && c+=(-s "$3")
  c+=("$2")
  printf '%s\n' "${c[@]}"
}
openloop_cmd() {  # phase port: a warm-up run records nothing worth keeping; a measured run skips its first second
  local w=1 d; d="$(secs "$LAT_DURATION")"
  [[ $1 == warmup ]] && { w=0; d="$(secs "$LAT_WARMUP")"; }
  printf '%s\n' taskset -c "$LOAD_CPU" "$tmp/http-openloop" -p "$2" -u /api/item -r "$RATE" -c "$LAT_CONNS" -w "$w" -d "$d"
}
sut_pids_of() {  # target id -> pids of the server under test
  case $1 in
    *-cg) echo "$pid_cg" ;;
    get-upstream|lat-direct) echo "${pids_up[0]}"; children "${pids_up[0]}" ;;
    *-haproxy) echo "${pids_hap[0]}" ;;
    *) echo "${pids_ngx[0]}"; children "${pids_ngx[0]}" ;;
  esac
}
to_ms() {  # wrk latency such as 512.00us, 1.23ms, 1.01s, 2.00m
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    if (u == "us") n /= 1000; else if (u == "s") n *= 1000; else if (u == "m") n *= 60000
    printf "%.3f", n }'
}
upstream_conns() {  # pids -> established connections from them to the upstream
  local ss_out p n=0
  ss_out="$(ss -Htnp state established "( dport = :$P_UP )" 2>/dev/null)"
  for p in "$@"; do n=$(( n + $(grep -c "pid=$p," <<<"$ss_out" || true) )); done
  echo "$n"
}
cg_health() {  # one line: RSS, threads, fds, connections to the upstream
  local rss fds thr up
  rss="$(awk '/^VmRSS/ {print $2}' /proc/"$pid_cg"/status)"
  thr="$(awk '/^Threads/ {print $2}' /proc/"$pid_cg"/status)"
  fds="$(ls /proc/"$pid_cg"/fd | wc -l)"
  up="$(ss -Htnp state established "( dport = :$P_UP )" 2>/dev/null | grep -c "pid=$pid_cg," || true)"
  echo "rss ${rss} KiB, threads $thr, fds $fds, upstream connections $up"
}

# Crossgate's CPU by thread kind, in clock ticks: "event-loops access-log jit vm-and-gc other". Linux
# keeps the first 15 characters of a thread's name (Netty's acceptor is counted with the event loops).
cg_thread_ticks() {
  local t
  for t in /proc/"$pid_cg"/task/*; do
    printf '%s|%s\n' "$(cat "$t/comm" 2>/dev/null)" "$(sed 's/.*) //' "$t/stat" 2>/dev/null | awk '{print $12+$13}')"
  done | awk -F'|' '
    $1 ~ /^multiThreadIoEv/ { k = 1 } $1 ~ /^crossgate-acces/ { k = 2 } $1 ~ /^C[12] Compiler/ { k = 3 }
    $1 ~ /^(VM Thread|GC Thread|G1 |VM Periodic)/ { k = 4 }
    { if (!k) k = 5; v[k] += $2; k = 0 }
    END { printf "%d %d %d %d %d\n", v[1], v[2], v[3], v[4], v[5] }'
}
threads_tsv="$tmp/threads.tsv"
: >"$threads_tsv"
results="$tmp/results.tsv"
lat_results="$tmp/lat-results.tsv"
discarded="$tmp/discarded.tsv"
: >"$results"; : >"$lat_results"; : >"$discarded"
last_foreign=0 noisy_kept=0 last_results="$results"
run_one() {  # id label url-or-port script duration phase (lat-* ids: the open-loop client, else wrk)
  local id=$1 label=$2 url=$3 script=$4 dur=$5 phase=$6 out cmd
  if [[ $id == lat-* ]]; then mapfile -t cmd < <(openloop_cmd "$phase" "$url"); else mapfile -t cmd < <(wrk_cmd "$dur" "$url" "$script"); fi
  out="$tmp/wrk/$id-$phase.txt"
  local sut; sut="$(sut_pids_of "$id")"
  local b0 b1 all0 all1 s0 s1 o0 o1 w0 w1 t0 t1 ours
  read -r b0 _ < <(busy_jiffies); all0="$(busy_jiffies)"
  local th0="" th1=""
  [[ $id == *-cg ]] && th0="$(cg_thread_ticks)"
  s0="$(jiffies_of $sut)"; o0="$(jiffies_of $(our_pids))"; w0="$(self_children_jiffies)"; t0="$(date +%s.%N)"
  "${cmd[@]}" >"$out" 2>&1 &
  pid_wrk=$!
  wait "$pid_wrk" || { pid_wrk=""; cat "$out" >&2; die "${cmd[3]##*/} failed for $id"; }
  pid_wrk=""
  t1="$(date +%s.%N)"; w1="$(self_children_jiffies)"; o1="$(jiffies_of $(our_pids))"; s1="$(jiffies_of $sut)"
  read -r b1 _ < <(busy_jiffies); all1="$(busy_jiffies)"
  [[ $id == *-cg ]] && th1="$(cg_thread_ticks)"
  local thpct=""
  if [[ -n $th0 ]]; then
    thpct="$(awk -v a="$th0" -v b="$th1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" 'BEGIN {
      split(a, x, " "); split(b, y, " "); el = (t1 - t0) * hz
      for (i = 1; i <= 5; i++) printf "%s%.0f", (i > 1 ? " " : ""), 100 * (y[i] - x[i]) / el; print "" }')"
  fi
  ours=$(( (o1 - o0) + (w1 - w0) ))
  {
    echo; echo "===== $phase: $label"
    echo "\$ ${cmd[*]}"
    cat "$out"
    awk -v a="$all0" -v b="$all1" -v t0="$t0" -v t1="$t1" -v hz="$HZ" -v sut=$((s1 - s0)) -v ours="$ours" 'BEGIN {
      n = split(a, x, " "); split(b, y, " "); el = (t1 - t0) * hz
      printf "# CPU during the run (%% of one CPU): server under test %.0f", 100 * sut / el
      for (i = 2; i <= n; i++) printf ", cpu%d busy %.0f", i - 2, 100 * (y[i] - x[i]) / el
      printf ", processes other than this benchmark %.0f\n", 100 * ((y[1] - x[1]) - ours) / el }'
    if [[ $id == *-cg ]]; then
      read -r tl ta tj tv to <<<"$thpct"
      echo "# Crossgate CPU by thread during the run (% of one CPU): event loops $tl, access log $ta, JIT $tj, VM and GC $tv, other $to"
      echo "# Crossgate after the run: $(cg_health)"
    fi
    if [[ $id == get-nginx || $id == get-haproxy || $id == lat-nginx || $id == lat-haproxy ]]; then
      # the keep-alive pool at work: a handful of upstream connections, not one per request
      echo "# $label, connections to the upstream after the run: $(upstream_conns $sut)"
    fi
  } >>"$raw"
  [[ $phase == warmup ]] && return 0
  local rps p50 p99 reqs non2xx sockerr el sutpct cpu1 foreign kv
  rps="$(awk '/^Requests\/sec:/ {print $2}' "$out")"
  p50="$(to_ms "$(awk '$1 == "50%" {print $2}' "$out")")"
  p99="$(to_ms "$(awk '$1 == "99%" {print $2}' "$out")")"
  reqs="$(awk '/requests in/ {print $1}' "$out")"
  non2xx="$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$out")"; non2xx="${non2xx:-0}"
  sockerr="$(awk '/Socket errors:/ { gsub(/,/, ""); print $4+$6+$8+$10 }' "$out")"; sockerr="${sockerr:-0}"
  el="$(awk -v t0="$t0" -v t1="$t1" -v hz="$HZ" 'BEGIN { print (t1 - t0) * hz }')"
  sutpct="$(awk -v j=$((s1 - s0)) -v el="$el" 'BEGIN { printf "%.0f", 100 * j / el }')"
  cpu1="$(awk -v a="$all0" -v b="$all1" -v el="$el" -v cs="$load_cpu_list" 'BEGIN { split(a, x, " "); split(b, y, " ")
    n = split(cs, c, " "); for (i = 1; i <= n; i++) t += y[c[i] + 2] - x[c[i] + 2]; printf "%.0f", 100 * t / n / el }')"
  foreign="$(awk -v d=$((b1 - b0 - ours)) -v el="$el" 'BEGIN { f = 100 * d / el; if (f < 0) f = 0; printf "%.0f", f }')"
  last_foreign="$foreign"
  [[ -n $thpct ]] && printf '%s\t%s\t%s\n' "$id" "$phase" "${thpct// /$'\t'}" >>"$threads_tsv"
  if [[ $id == lat-* ]]; then
    kv() { tr ' ' '\n' <"$out" | sed -n "s/^$1=//p" | tail -n 1; }
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$phase" \
      "$(kv p50_us)" "$(kv p90_us)" "$(kv p99_us)" "$(kv p999_us)" "$(kv max_us)" "$(kv rate)" "$(kv errors)" "$(kv non2xx)" \
      "$(kv lag_p99_us)" "$sutpct" "$cpu1" "$foreign" >>"$lat_results"
    last_results="$lat_results"
    log "$(printf '%-12s %-6s p50 %8s  p99 %8s  p99.9 %8s us  errors %s  SUT CPU %s%%  foreign CPU %s%%' \
          "$id" "$phase" "$(kv p50_us)" "$(kv p99_us)" "$(kv p999_us)" "$(kv errors)" "$sutpct" "$foreign")"
    return 0
  fi
  last_results="$results"
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
    "$id" "$phase" "${rps:-0}" "$p50" "$p99" "${reqs:-0}" "$non2xx" "$sockerr" "$sutpct" "$cpu1" "$foreign" >>"$results"
  log "$(printf '%-12s %-6s %10s req/s  p99 %8s ms  non-2xx %s  socket errors %s  SUT CPU %s%%  foreign CPU %s%%' \
        "$id" "$phase" "${rps:-?}" "$p99" "$non2xx" "$sockerr" "$sutpct" "$foreign")"
}

health_before="$(cg_health)"
echo >>"$raw"; echo "# Crossgate before the benchmark: $health_before" >>"$raw"

log "warm-up: $WARMUP per target (Crossgate first)"
for t in "pf-cg" "get-cg" "pf-nginx" "pf-haproxy" "get-direct" "get-upstream" "get-nginx" "get-haproxy"; do
  for spec in "${targets[@]}"; do
    IFS='|' read -r id _ label url script <<<"$spec"
    if [[ $id == "$t" ]]; then
      for ((w = 0; w < WARMUP_SPLIT; w++)); do
        run_one "$id" "$label" "$url" "$script" "$(( $(secs "$WARMUP") / WARMUP_SPLIT ))s" warmup
      done
    fi
  done
done
# Netty starts an event loop's thread on its first task: count them once every target has been warmed up.
cg_thread_list="$(cg_threads | tr '\n' ',' | sed 's/,$//')"
cg_loops="$(tr ',' '\n' <<<"$cg_thread_list" | grep -c '^multiThreadIoEventLoopGroup-3-' || true)"
cg_acceptors="$(tr ',' '\n' <<<"$cg_thread_list" | grep -c '^multiThreadIoEventLoopGroup-2-' || true)"
echo "# Crossgate threads after the warm-up ($cg_loops worker event loops, $cg_acceptors acceptor): $cg_thread_list" >>"$raw"
log "Crossgate after the warm-up: $cg_loops worker event loops, $cg_acceptors acceptor"

measure() {  # id label url-or-port script duration round: one measured run, repeated while others were busy
  local id=$1 label=$2 url=$3 script=$4 dur=$5 r=$6 attempt
  for attempt in $(seq 0 "$RETRIES"); do
    wait_quiet
    run_one "$id" "$label" "$url" "$script" "$dur" "run$r"
    (( last_foreign <= FOREIGN_MAX )) && break
    if (( attempt < RETRIES )); then
      tail -n 1 "$last_results" >>"$discarded"; sed -i '$d' "$last_results"
      [[ $id == *-cg ]] && sed -i '$d' "$threads_tsv"
      echo "# discarded: other processes used ${last_foreign}% of a CPU during this run (limit $FOREIGN_MAX); repeated" >>"$raw"
      log "$id run$r discarded (other processes used ${last_foreign}% of a CPU); repeating"
    else
      echo "# kept although other processes used ${last_foreign}% of a CPU: $RETRIES repeats were not enough" >>"$raw"
      noisy_kept=$(( noisy_kept + 1 ))
    fi
  done
}
for r in $(seq "$RUNS"); do
  for spec in "${targets[@]}"; do
    IFS='|' read -r id _ label url script <<<"$spec"
    measure "$id" "$label" "$url" "$script" "$DURATION" "$r"
  done
done

# (c) the latency the edge adds at RATE req/s, open loop: a warm-up run of each target, then interleaved rounds
if (( LATENCY )); then
  log "(c) open loop at $RATE req/s, $LAT_CONNS connections: warm-up $LAT_WARMUP per target, then $LAT_RUNS round(s) of $LAT_DURATION"
  for spec in "${lat_targets[@]}"; do
    IFS='|' read -r id _ label port <<<"$spec"
    run_one "$id" "$label" "$port" "" "" warmup
  done
  for r in $(seq "$LAT_RUNS"); do
    for spec in "${lat_targets[@]}"; do
      IFS='|' read -r id _ label port <<<"$spec"
      measure "$id" "$label" "$port" "" "" "$r"
    done
  done
fi

# ------------------------------------------------------------------ after: is Crossgate still well?
sleep 2
health_after="$(cg_health)"
post_fail=""
for pc in "Crossgate preflight|$P_CG|preflight|204" "Crossgate GET|$P_CG|get|200"; do
  IFS='|' read -r title port kind want <<<"$pc"
  before="$check_fail"; check "after the benchmark: $title" "$port" "$kind" "$want"
  [[ $check_fail == "$before" ]] || post_fail+="$title failed after the load; "
done
cg_err_lines="$(grep -c . "$tmp/crossgate.err" || true)"
cg_err_bad="$(grep -ciE 'exception|error|leak|warn' "$tmp/crossgate.err" || true)"
ngx_err_bad="$(cat "$tmp"/nginx/logs/*-error.log 2>/dev/null | grep -cE '\[(alert|crit|error|emerg)\]' || true)"
hap_err_lines="$(grep -c . "$tmp/haproxy/stderr.log" || true)"
{
  echo; echo "# Crossgate after the benchmark (2 s idle): $health_after"
  echo; echo "===== Crossgate stderr ($cg_err_lines lines)"; cat "$tmp/crossgate.err"
  echo; echo "===== nginx error logs"; for f in "$tmp"/nginx/logs/*-error.log; do echo "--- $(basename "$f")"; cat "$f"; done
  echo; echo "===== HAProxy stderr ($hap_err_lines lines)"; cat "$tmp/haproxy/stderr.log"
} >>"$raw"

# ------------------------------------------------------------------ table
median() {  # id column
  awk -F'\t' -v id="$1" -v c="$2" '$1 == id && $2 ~ /^run/ { print $c }' "$results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
allruns() { awk -F'\t' -v id="$1" -v c="$2" '$1 == id && $2 ~ /^run/ { printf "%s%s", sep, $c; sep = " / " }' "$results"; }
sumcol() { awk -F'\t' -v id="$1" -v c="$2" '$1 == id && $2 ~ /^run/ { s += $c } END { print s + 0 }' "$results"; }
maxcol() { awk -F'\t' -v c="$1" '$2 ~ /^run/ && $c > m { m = $c } END { print m + 0 }' "$results"; }
fmt_int() { awk -v v="$1" 'BEGIN { s = sprintf("%.0f", v); o = ""; while (length(s) > 3) { o = "," substr(s, length(s) - 2) o; s = substr(s, 1, length(s) - 3) } print s o }'; }
fmt_ms() { awk -v v="$1" 'BEGIN { printf "%.2f", v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "n/a"; else printf "%.2fx", a / b }'; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a + 0 >= b + 0) }'; }

declare -A RPS P99 P50
for spec in "${targets[@]}"; do
  IFS='|' read -r id _ _ _ _ <<<"$spec"
  RPS[$id]="$(median "$id" 3)"; P50[$id]="$(median "$id" 4)"; P99[$id]="$(median "$id" 5)"
done

# Issue 14's targets: against the faster peer (req/s), and a p99 no higher than either peer's.
faster() { ge "${RPS[$1]}" "${RPS[$2]}" && echo "$1" || echo "$2"; }
a_best="$(faster pf-nginx pf-haproxy)"; b_best="$(faster get-nginx get-haproxy)"
peer_name() { case $1 in *-nginx) echo nginx ;; *-haproxy) echo HAProxy ;; esac; }
a_ratio="$(ratio "${RPS[pf-cg]}" "${RPS[$a_best]}")"
b_ratio="$(ratio "${RPS[get-cg]}" "${RPS[$b_best]}")"
a_rps_ok=no; ge "$(awk -v a="${RPS[pf-cg]}" -v b="${RPS[$a_best]}" 'BEGIN { print (b > 0 ? a / b : 0) }')" 1.1 && a_rps_ok=yes
b_rps_ok=no; ge "$(awk -v a="${RPS[get-cg]}" -v b="${RPS[$b_best]}" 'BEGIN { print (b > 0 ? a / b : 0) }')" 1.0 && b_rps_ok=yes
a_p99_ok=no; ge "${P99[pf-nginx]}" "${P99[pf-cg]}" && ge "${P99[pf-haproxy]}" "${P99[pf-cg]}" && a_p99_ok=yes
b_p99_ok=no; ge "${P99[get-nginx]}" "${P99[get-cg]}" && ge "${P99[get-haproxy]}" "${P99[get-cg]}" && b_p99_ok=yes
verdict() { [[ $1 == yes ]] && echo "met" || echo "**not met**"; }
verdict_plain() { [[ $1 == yes ]] && echo "met" || echo "not met"; }

# (c): medians over the rounds of each percentile, and what each edge adds to direct (per percentile)
lat_median() {  # id column
  awk -F'\t' -v id="$1" -v c="$2" '$1 == id && $2 ~ /^run/ { print $c }' "$lat_results" | sort -g |
    awk '{ v[NR] = $1 } END { if (NR == 0) print "nan"; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
lat_max() { awk -F'\t' -v id="$1" -v c="$2" '$1 == id && $2 ~ /^run/ && $c + 0 > m { m = $c + 0 } END { print m + 0 }' "$lat_results"; }
lat_sum() { awk -F'\t' -v id="$1" -v c="$2" '$1 == id && $2 ~ /^run/ { s += $c } END { print s + 0 }' "$lat_results"; }
us_ms() { awk -v v="$1" 'BEGIN { if (v == "nan" || v == "") print "n/a"; else printf "%.3f", v / 1000 }'; }
added_ms() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "nan" || b == "nan") print "n/a"; else printf "%+.3f", (a - b) / 1000 }'; }

{
  echo "# Edge HTTP benchmark: Crossgate against nginx and HAProxy"
  echo
  echo "(a) CORS preflights answered at the edge, and (b) a proxied GET of a 105-byte JSON response from a"
  echo "small upstream (nginx \`return 200\`), measured with wrk in one run of \`bench/edge-http.sh\` on loopback;"
  echo "$( (( LATENCY )) && echo "(c), below, the latency each edge adds to that GET at a fixed rate of $RATE req/s (open loop)." || echo "(c), the latency at a fixed rate, was not measured in this run (LATENCY=0).")"
  echo "Medians of $RUNS runs of $DURATION each (rounds interleaved: every target once per round), after a"
  echo "$WARMUP warm-up of every target ($WARMUP_SPLIT wrk runs, each with new connections). \`wrk -t$THREADS -c$CONNS -d$DURATION --latency\`, keep-alive connections."
  echo
  if [[ $LAYOUT == shared ]]; then
  echo "**CPU budget: shared** (\`LAYOUT=shared\`), the method of the reference figures quoted in the issue:"
  echo "nothing is pinned apart. nginx under test runs \`worker_processes 1\` (one process, so at most one CPU),"
  echo "HAProxy \`nbthread 1\` (one thread, so at most one CPU),"
  echo "the Crossgate JVM runs with the launcher's jvm.options and sees $cg_nproc processors ($cg_loops worker event loop(s),"
  echo "$cg_acceptors acceptor, \`${cg_gc:-?}\`), and wrk and the upstream nginx (1 worker) compete for the same"
  echo "$nprocs CPUs. This favours a server that can use more than one core only as far as the load side leaves"
  echo "it one; the pinned layout (\`bench/results/edge-http.md\`) compares equal CPU budgets."
  else
  echo "**CPU budget.** The server under test has CPU $SUT_CPU to itself (\`taskset -c $SUT_CPU\`): nginx with"
  echo "\`worker_processes 1\`, HAProxy with \`nbthread 1\`, or the whole Crossgate JVM — which then sees $cg_nproc processor(s), so Netty starts"
  echo "$cg_loops worker event loop(s) ($([[ $JAVA_OPTS_EXTRA == *eventLoopThreads* ]] && echo "set by CROSSGATE_JAVA_OPTS" || echo "Crossgate's default, one per processor")) and $cg_acceptors acceptor, and it runs with the launcher's jvm.options"
  echo "(\`${cg_gc:-?}\`, Netty's leak detection off); GC and JIT share that CPU too. wrk and the upstream nginx"
  echo "(1 worker) share CPU $LOAD_CPU. \"direct\" is a server block of the nginx under test returning the"
  echo "upstream's body itself, so direct and via-proxy give CPU $SUT_CPU's server the same budget."
  fi
  echo
  echo "| test | target | req/s (median) | p99 ms (median) | p50 ms (median) | req/s per run | non-2xx | socket errors | server CPU % | CPU $LOAD_CPU busy % | other processes CPU % (max) |"
  echo "| --- | --- | ---: | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: |"
  for spec in "${targets[@]}"; do
    IFS='|' read -r id group label _ _ <<<"$spec"
    max_foreign="$(awk -F'\t' -v id="$id" '$1 == id && $2 ~ /^run/ && $11 > m { m = $11 } END { print m + 0 }' "$results")"
    runs_fmt="$(allruns "$id" 3 | awk -F' / ' '{ for (i = 1; i <= NF; i++) printf "%s%.0f", (i > 1 ? " / " : ""), $i }')"
    echo "| ($group) | $label | $(fmt_int "${RPS[$id]}") | $(fmt_ms "${P99[$id]}") | $(fmt_ms "${P50[$id]}") | $runs_fmt | $(sumcol "$id" 7) | $(sumcol "$id" 8) | $(median "$id" 9) | $(median "$id" 10) | $max_foreign |"
  done
  echo
  echo "Ratios (of medians):"
  echo
  echo "| ratio | req/s | p99 |"
  echo "| --- | ---: | ---: |"
  echo "| (a) Crossgate / nginx, preflight | $(ratio "${RPS[pf-cg]}" "${RPS[pf-nginx]}") | $(ratio "${P99[pf-cg]}" "${P99[pf-nginx]}") |"
  echo "| (a) Crossgate / HAProxy, preflight | $(ratio "${RPS[pf-cg]}" "${RPS[pf-haproxy]}") | $(ratio "${P99[pf-cg]}" "${P99[pf-haproxy]}") |"
  echo "| (b) Crossgate / nginx, proxied GET | $(ratio "${RPS[get-cg]}" "${RPS[get-nginx]}") | $(ratio "${P99[get-cg]}" "${P99[get-nginx]}") |"
  echo "| (b) Crossgate / HAProxy, proxied GET | $(ratio "${RPS[get-cg]}" "${RPS[get-haproxy]}") | $(ratio "${P99[get-cg]}" "${P99[get-haproxy]}") |"
  echo "| (b) via nginx / direct | $(ratio "${RPS[get-nginx]}" "${RPS[get-direct]}") | $(ratio "${P99[get-nginx]}" "${P99[get-direct]}") |"
  echo "| (b) via HAProxy / direct | $(ratio "${RPS[get-haproxy]}" "${RPS[get-direct]}") | $(ratio "${P99[get-haproxy]}" "${P99[get-direct]}") |"
  echo "| (b) via Crossgate / direct | $(ratio "${RPS[get-cg]}" "${RPS[get-direct]}") | $(ratio "${P99[get-cg]}" "${P99[get-direct]}") |"
  echo
  echo "Targets (issue 14; \"the faster\" is the peer with more req/s in this run):"
  echo
  echo "- (a) Crossgate ≥ 1.1x the req/s of the faster of nginx and HAProxy for preflights: $(verdict $a_rps_ok) ($a_ratio of $(peer_name "$a_best")'s; $(fmt_int "${RPS[pf-cg]}") against $(fmt_int "${RPS[$a_best]}") req/s)"
  echo "- (a) Crossgate's p99 no higher than nginx's and HAProxy's for preflights: $(verdict $a_p99_ok) ($(fmt_ms "${P99[pf-cg]}") ms against $(fmt_ms "${P99[pf-nginx]}") and $(fmt_ms "${P99[pf-haproxy]}") ms)"
  echo "- (b) Crossgate ≥ 1.0x the req/s of the faster of nginx and HAProxy for the proxied GET: $(verdict $b_rps_ok) ($b_ratio of $(peer_name "$b_best")'s; $(fmt_int "${RPS[get-cg]}") against $(fmt_int "${RPS[$b_best]}") req/s)"
  echo "- (b) Crossgate's p99 no higher than nginx's and HAProxy's for the proxied GET: $(verdict $b_p99_ok) ($(fmt_ms "${P99[get-cg]}") ms against $(fmt_ms "${P99[get-nginx]}") and $(fmt_ms "${P99[get-haproxy]}") ms)"
  if (( LATENCY )); then
  echo
  echo "## (c) Latency the edge adds at a fixed moderate rate"
  echo
  echo "The proxied GET of (b) at a constant $RATE req/s, open loop (\`bench/http-openloop.c\`): request k is due at"
  echo "start + k / $RATE s whatever became of the others, and its latency runs from that intended send time to the"
  echo "last byte of its response, so a stall is charged to every request it delayed (no coordinated omission)."
  echo "$LAT_CONNS keep-alive connections, one request in flight on each (no pipelining); a due request waits, its"
  echo "clock running, while all are busy. Medians over $LAT_RUNS round(s) of $LAT_DURATION recorded (after 1 s not"
  echo "recorded), rounds interleaved, after a $LAT_WARMUP run of each target; the client shares CPU $LOAD_CPU"
  echo "with the upstream, the edges run on CPU $SUT_CPU as in (b). \"direct\" is the upstream itself."
  echo
  echo "| target | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms (of all runs) | req/s answered | errors | client send lag p99 ms | server CPU % | CPU $LOAD_CPU busy % | other processes CPU % (max) |"
  echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
  for spec in "${lat_targets[@]}"; do
    IFS='|' read -r id _ label _ <<<"$spec"
    echo "| $label | $(us_ms "$(lat_median "$id" 3)") | $(us_ms "$(lat_median "$id" 4)") | $(us_ms "$(lat_median "$id" 5)") | $(us_ms "$(lat_median "$id" 6)") | $(us_ms "$(lat_max "$id" 7)") | $(fmt_int "$(lat_median "$id" 8)") | $(( $(lat_sum "$id" 9) + $(lat_sum "$id" 10) )) | $(us_ms "$(lat_median "$id" 11)") | $(lat_median "$id" 12) | $(lat_median "$id" 13) | $(lat_max "$id" 14) |"
  done
  echo
  echo "Added latency, ms: the edge's percentile minus direct's (medians above; a difference of percentiles, not"
  echo "the percentile of per-request differences):"
  echo
  echo "| via | p50 | p90 | p99 | p99.9 |"
  echo "| --- | ---: | ---: | ---: | ---: |"
  for e in "lat-nginx|nginx" "lat-haproxy|HAProxy" "lat-cg|Crossgate"; do
    row="| ${e#*|} |"
    for c in 3 4 5 6; do row+=" $(added_ms "$(lat_median "${e%%|*}" $c)" "$(lat_median lat-direct $c)") |"; done
    echo "$row"
  done
  echo
  echo "- errors counts requests unanswered, lost with a closed connection, or answered non-2xx/3xx (total over the"
  echo "  measured runs); \"req/s answered\" counts the responses that arrived during the recorded time: below"
  echo "  $RATE, the target did not keep up (and its latency grows with the queue of requests waiting to be sent)."
  echo "- client send lag: how late requests left the client (send time minus intended time). It is part of every"
  echo "  latency above; when it is large for direct too, the client's CPU (shared with the upstream) is the limit."
  fi
  echo
  echo "## Checks"
  echo
  echo "- Before the load, curl got 204 with \`Access-Control-Allow-Origin: $ORIGIN\` for a preflight from each"
  echo "  edge, no \`Access-Control-Allow-Origin\` for one from an origin not allowed, and 200 with the upstream's JSON"
  echo "  for a GET from every target (the responses are in \`$(basename "$raw")\`). wrk counts 204 as a success; a"
  echo "  refused preflight (403) would show as non-2xx."
  if [[ $pf_same == yes ]]; then
  echo "- The three preflight answers carry the same headers and values (names compared without case), apart from"
  echo "  X-Request-Id's random value ($(pf_rid "$pf_h_nginx") characters from nginx, $(pf_rid "$pf_h_hap") from HAProxy, $(pf_rid "$pf_h_cg") from Crossgate) and"
  echo "  these, written by some only: nginx ${pf_extra_n:-none}; HAProxy ${pf_extra_h:-none}; Crossgate ${pf_extra_c:-none}."
  else
  echo "- **The preflight answers differ in headers or values** (beyond the request id and server/date/connection): see"
  echo "  \"preflight headers compared\" in \`$(basename "$raw")\`."
  fi
  echo "- non-2xx and socket errors: totals over the $RUNS measured runs."
  if [[ -z $post_fail ]]; then
    echo "- After the load Crossgate still answered a preflight (204) and a GET (200)."
  else
    echo "- **After the load: $post_fail**"
  fi
  echo "- Crossgate before the load: $health_before; after it (2 s idle): $health_after."
  echo "- Crossgate's stderr: $cg_err_lines lines, $cg_err_bad mentioning exception/error/warn/leak; nginx error logs: $ngx_err_bad alert/crit/error lines; HAProxy's stderr: $hap_err_lines lines."
  echo "- Other processes on the machine: $(grep -c . "$discarded" || true) run(s) discarded and repeated because other"
  echo "  processes used more than $FOREIGN_MAX% of a CPU during them (kept in the raw file)$( (( noisy_kept > 0 )) && echo "; **$noisy_kept run(s) kept above that limit after $RETRIES repeats**")$( (( quiet_timeouts > 0 )) && echo "; **$quiet_timeouts run(s) started on a busy machine after waiting ${QUIET_MAX}s**")."
  for id in pf-cg get-cg; do
    echo "- Crossgate's CPU by thread, $([[ $id == pf-cg ]] && echo preflights || echo proxied GET) (median % of one CPU): $(awk -F'\t' -v id="$id" '$1 == id' "$threads_tsv" |
      awk -F'\t' '{ for (i = 3; i <= 7; i++) v[i, NR] = $i } END {
        split("event loops,access log,JIT,VM and GC,other", n, ",")
        for (i = 3; i <= 7; i++) { m = 0; for (r = 1; r <= NR; r++) a[r] = v[i, r]
          for (r = 1; r <= NR; r++) for (q = r + 1; q <= NR; q++) if (a[q] + 0 < a[r] + 0) { t = a[r]; a[r] = a[q]; a[q] = t }
          printf "%s%s %s", (i > 3 ? ", " : ""), n[i - 2], (NR ? a[int((NR + 1) / 2)] : "?") } }')."
  done
  saturated=""
  for spec in "${targets[@]}"; do
    IFS='|' read -r id _ label _ _ <<<"$spec"
    [[ $id == get-upstream ]] && continue
    ge "$(median "$id" 10)" 95 && saturated+="${saturated:+; }$label"
  done
  if [[ -n $saturated ]]; then
    echo "- CPU $LOAD_CPU (wrk and the upstream) was saturated (≥ 95% busy) for: $saturated. Those figures are"
    echo "  limited by the load side as much as by the server: the server's own capacity is at least that."
  fi
  echo "- nginx's preflight answer comes from a \`map\` and fixed \`add_header\`s, HAProxy's from a \`map_str\` and"
  echo "  \`http-request return\` with fixed \`hdr\`s (the same headers Crossgate sends, request id included), both"
  echo "  without checking the requested method and headers; Crossgate checks them."
  echo "- HAProxy proxies with \`http-reuse always\` and \`option http-keep-alive\` (idle server connections kept 60 s),"
  echo "  as nginx with \`keepalive 128\` to the same upstream."
  echo "- Crossgate runs with \`log.access: false\`, as nginx runs with \`access_log off\` and HAProxy without a \`log\`"
  echo "  line; all keep their other per-request work (Crossgate: metrics by route, status and reason, on the admin listener)."
  echo
  echo "## Run"
  echo
  echo "- date: $started"
  echo "- machine: nproc $nprocs, ${cpu_model:-unknown CPU}, $(uname -srm)"
  echo "- java: $(echo "$java_version" | tr '\n' ' ' | sed 's/ *$//')"
  echo "- nginx: ${nginx_version#nginx version: }"
  echo "- HAProxy: ${haproxy_version#HAProxy version }"
  echo "- wrk: $wrk_version"
  echo "- Crossgate: commit $git_rev$( (( git_dirty > 0 )) && echo " plus uncommitted changes in $git_dirty source/pom files") (jar sha256 $jar_sha...)"
  echo "- command: \`bench/edge-http.sh\`$( [[ "$RUNS $DURATION $WARMUP $CONNS $THREADS $SUT_CPU $LOAD_CPU" != "3 10s 20s 50 1 0 1" ]] && echo " with LAYOUT=$LAYOUT RUNS=$RUNS DURATION=$DURATION WARMUP=$WARMUP CONNS=$CONNS THREADS=$THREADS SUT_CPU=$SUT_CPU LOAD_CPU=$LOAD_CPU")$( [[ "$LATENCY $RATE $LAT_CONNS $LAT_RUNS $LAT_DURATION $LAT_WARMUP" != "1 20000 50 $RUNS 10s 10s" ]] && echo " LATENCY=$LATENCY RATE=$RATE LAT_CONNS=$LAT_CONNS LAT_RUNS=$LAT_RUNS LAT_DURATION=$LAT_DURATION LAT_WARMUP=$LAT_WARMUP")$( [[ $WARMUP_SPLIT != 4 ]] && echo " WARMUP_SPLIT=$WARMUP_SPLIT")$( [[ -n $JAVA_OPTS_EXTRA ]] && echo " and CROSSGATE_JAVA_OPTS=\"$JAVA_OPTS_EXTRA\"")"
  echo "- Crossgate: \`$java_cmdline >/dev/null\` (config: profile prod, the CORS policy above, upstream http://127.0.0.1:$P_UP)"
  echo "- nginx: \`taskset -c $SUT_CPU nginx -p TMP/nginx -c TMP/nginx/sut.conf\`, upstream \`taskset -c $LOAD_CPU nginx -p TMP/nginx -c TMP/nginx/upstream.conf\` (both configurations are in the raw file)"
  echo "- HAProxy: \`taskset -c $SUT_CPU haproxy -db -f TMP/haproxy/sut.cfg\` (its configuration and map are in the raw file)"
  echo "- wrk: \`taskset -c $LOAD_CPU wrk -t$THREADS -c$CONNS -d$DURATION --latency [-s preflight.lua] URL\`"
  (( LATENCY )) && echo "- open-loop client: \`cc -O2 bench/http-openloop.c\`, \`taskset -c $LOAD_CPU http-openloop -p PORT -u /api/item -r $RATE -c $LAT_CONNS -w 1 -d $(secs "$LAT_DURATION")\`"
  echo "- raw outputs: \`bench/results/$(basename "$raw")\`"
} >"$md"

cat "$md"
