/*
 * http-openloop: an open-loop, constant-rate HTTP/1.1 load generator for bench/edge-http.sh.
 *
 *   http-openloop -p PORT [-a 127.0.0.1] [-u /path] [-r 20000] [-c 50] [-w 5] [-d 10] [-H 'Name: value']...
 *
 * Request k is due at start + k / RATE, whatever happened to the requests before it (open loop, as
 * wrk2 does). Its latency is measured from that intended send time to the last byte of its response,
 * so a server that stalls is charged for every request that should have been sent during the stall and
 * had to wait: no coordinated omission. C keep-alive connections, one request in flight on each
 * (no pipelining); a due request goes out on the connection idle the longest, and waits (its clock
 * running) while all C are busy. Requests due in the first W seconds warm up and are not recorded; those
 * due in the next D seconds are. The run is bounded: requests still unanswered 10 s after the last one
 * was due are counted as errors.
 *
 * Prints one line of key=value pairs on stdout (latencies in microseconds, percentiles from a
 * log-linear histogram good to 1% of the value); problems are described on stderr. "lag" is how late
 * requests actually left the client (send time minus intended time): when its high percentiles grow,
 * the connections were all busy (the server fell behind) or the client itself lacked CPU.
 * Exit status 0, or 1 when the target could not be reached or answered with something other than
 * Content-Length framed HTTP/1.1 responses. Built by bench/edge-http.sh with `cc -O2`.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SUB_BITS 7
#define SUB_COUNT (1 << SUB_BITS)
#define LARGEST ((1LL << 40) - 1)
#define NBUCKETS (SUB_COUNT * (40 - SUB_BITS) + SUB_COUNT)
#define BUF_SIZE 16384
#define DRAIN_NS 10000000000LL

/* Latencies in ns, in buckets of 8 significant bits (as HdrHistogram and bench/ws's LatencyHistogram). */
typedef struct { int64_t counts[NBUCKETS]; int64_t total, max; double sum; } hist_t;

static int bucket(int64_t v) {
    int shift = 63 - __builtin_clzll((uint64_t) v | 1) - SUB_BITS;
    if (shift < 0) shift = 0;
    return SUB_COUNT * shift + (int) (v >> shift);
}
static void hist_record(hist_t *h, int64_t v) {
    if (v < 0) v = 0;
    if (v > LARGEST) v = LARGEST;
    h->counts[bucket(v)]++; h->total++; h->sum += (double) v;
    if (v > h->max) h->max = v;
}
static int64_t hist_pct(const hist_t *h, double pct) {
    if (h->total == 0) return 0;
    int64_t rank = (int64_t) (pct / 100 * (double) h->total + 0.999999999);
    if (rank < 1) rank = 1;
    int64_t seen = 0;
    for (int i = 0; i < NBUCKETS; i++) {
        seen += h->counts[i];
        if (seen >= rank) {
            int shift = i / SUB_COUNT - 1;
            if (shift < 0) shift = 0;
            int64_t low = (int64_t) (i - SUB_COUNT * shift) << shift;
            int64_t mid = low + ((1LL << shift) >> 1);
            return mid < h->max ? mid : h->max;
        }
    }
    return h->max;
}

typedef struct {
    int fd;
    int busy;
    int64_t intended;   /* intended send time of the request in flight */
    int64_t k;          /* its number */
    size_t len;
    char buf[BUF_SIZE];
} conn_t;

static struct sockaddr_in addr;
static int ep;
static char request[4096];
static size_t request_len;
static conn_t *conns;
static int nconns;
static int *idle_ring; /* FIFO of idle connection indexes */
static int idle_head, idle_count;
static int64_t errors, non2xx, reconnects, completed, recorded, in_window;
static int64_t warm_end_k; /* first recorded request number */
static hist_t lat, lag;

static int64_t now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t) t.tv_sec * 1000000000LL + t.tv_nsec;
}

static void idle_push(int i) { idle_ring[(idle_head + idle_count++) % nconns] = i; }
static int idle_pop(void) { int i = idle_ring[idle_head]; idle_head = (idle_head + 1) % nconns; idle_count--; return i; }

static int open_conn(int i) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) { perror("http-openloop: socket"); return -1; }
    if (connect(fd, (struct sockaddr *) &addr, sizeof addr) < 0) {
        fprintf(stderr, "http-openloop: connect to port %d: %s\n", ntohs(addr.sin_port), strerror(errno));
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.u32 = (uint32_t) i };
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    conns[i].fd = fd; conns[i].busy = 0; conns[i].len = 0;
    return 0;
}

/* Closes connection i (counting the request in flight, if any, as an error) and opens it again; the caller
 * puts it back on the idle list when it was not there (it had a request in flight). */
static int reopen(int i, const char *why) {
    conn_t *c = &conns[i];
    if (c->busy) {
        errors++;
        if (errors <= 5) fprintf(stderr, "http-openloop: request lost: %s\n", why);
    }
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
    reconnects++;
    return open_conn(i);
}

/* 1: a whole response is in c->buf; 0: more bytes needed; -1: not a Content-Length framed response. */
static int parse(conn_t *c, int *status, int *close_after) {
    char *end = memmem(c->buf, c->len, "\r\n\r\n", 4);
    if (!end) return c->len >= BUF_SIZE ? -1 : 0;
    size_t head = (size_t) (end - c->buf) + 4;
    if (c->len < 12 || memcmp(c->buf, "HTTP/1.", 7) != 0) return -1;
    *status = atoi(c->buf + 9);
    long length = (*status == 204 || *status == 304 || *status / 100 == 1) ? 0 : -1;
    *close_after = 0;
    for (char *line = memchr(c->buf, '\n', head) + 1; line < c->buf + head - 2;) {
        char *eol = memchr(line, '\n', (size_t) (c->buf + head - line));
        if (strncasecmp(line, "content-length:", 15) == 0) length = strtol(line + 15, NULL, 10);
        else if (strncasecmp(line, "transfer-encoding:", 18) == 0) return -1;
        else if (strncasecmp(line, "connection:", 11) == 0 && memmem(line, (size_t) (eol - line), "close", 5)) *close_after = 1;
        line = eol + 1;
    }
    if (length < 0) return -1;
    if (c->len < head + (size_t) length) return c->len >= BUF_SIZE ? -1 : 0;
    if (c->len > head + (size_t) length) return -1; /* bytes nobody asked for: no pipelining here */
    return 1;
}

static void usage(void) {
    fprintf(stderr, "usage: http-openloop -p PORT [-a 127.0.0.1] [-u /path] [-r 20000] [-c 50] [-w 5] [-d 10] [-H 'Name: value']...\n");
    exit(2);
}

int main(int argc, char **argv) {
    const char *host = "127.0.0.1", *path = "/";
    int port = 0;
    double rate = 20000, warmup = 5, duration = 10;
    char headers[2048] = "";
    nconns = 50;
    int opt;
    while ((opt = getopt(argc, argv, "a:p:u:r:c:w:d:H:")) != -1) {
        switch (opt) {
            case 'a': host = optarg; break;
            case 'p': port = atoi(optarg); break;
            case 'u': path = optarg; break;
            case 'r': rate = atof(optarg); break;
            case 'c': nconns = atoi(optarg); break;
            case 'w': warmup = atof(optarg); break;
            case 'd': duration = atof(optarg); break;
            case 'H':
                if (strlen(headers) + strlen(optarg) + 3 >= sizeof headers) usage();
                strcat(headers, optarg); strcat(headers, "\r\n");
                break;
            default: usage();
        }
    }
    if (port <= 0 || rate <= 0 || nconns <= 0 || duration <= 0 || warmup < 0) usage();
    request_len = (size_t) snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: %s:%d\r\n%s\r\n", path, host, port, headers);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t) port);
    if (inet_pton(AF_INET, host, &addr.sin_addr) != 1) { fprintf(stderr, "http-openloop: %s is not an IPv4 address\n", host); return 2; }

    /* Timers as precise as the kernel allows: the default slack (50 us) is the interval at 20,000 req/s. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
    ep = epoll_create1(EPOLL_CLOEXEC);
    conns = calloc((size_t) nconns, sizeof *conns);
    idle_ring = calloc((size_t) nconns, sizeof *idle_ring);
    for (int i = 0; i < nconns; i++) {
        if (open_conn(i) < 0) return 1;
        idle_push(i);
    }

    const double interval = 1e9 / rate;
    const int64_t total_k = (int64_t) ((warmup + duration) * rate);
    warm_end_k = (int64_t) (warmup * rate);
    const int64_t start = now_ns() + 1000000; /* 1 ms from now */
    const int64_t last_due = start + (int64_t) ((double) (total_k - 1) * interval);
    const int64_t deadline = last_due + DRAIN_NS;
    const int64_t window_start = start + (int64_t) ((double) warm_end_k * interval);
    const int64_t window_end = start + (int64_t) ((double) total_k * interval);
    int64_t next_k = 0, busy = 0, protocol_errors = 0;
    struct epoll_event events[256];

    for (;;) {
        int64_t now = now_ns();
        while (next_k < total_k && idle_count > 0) {
            int64_t due = start + (int64_t) ((double) next_k * interval);
            if (due > now) break;
            int i = idle_pop();
            conn_t *c = &conns[i];
            ssize_t w = write(c->fd, request, request_len);
            if (w != (ssize_t) request_len) {
                /* a short write of ~100 bytes to an idle loopback connection: the connection is broken */
                fprintf(stderr, "http-openloop: write: %s; reconnecting\n", w < 0 ? strerror(errno) : "short write");
                if (reopen(i, "") < 0) return 1;
                idle_push(i);
                continue; /* the request stays due: it goes out on the next idle connection */
            }
            c->busy = 1; c->intended = due; c->k = next_k; c->len = 0; busy++;
            if (next_k >= warm_end_k) hist_record(&lag, now - due);
            next_k++;
        }
        if (next_k >= total_k && busy == 0) break;
        if (now >= deadline) break;

        struct timespec timeout = { 0, 100000000 }; /* 100 ms when waiting only for responses */
        if (next_k < total_k && idle_count > 0) {
            int64_t wait = start + (int64_t) ((double) next_k * interval) - now;
            if (wait < 0) wait = 0;
            timeout.tv_sec = wait / 1000000000LL; timeout.tv_nsec = wait % 1000000000LL;
        }
        int n = epoll_pwait2(ep, events, 256, &timeout, NULL);
        if (n < 0 && errno != EINTR) { perror("http-openloop: epoll_pwait2"); return 1; }
        if (n <= 0) continue;
        int64_t t = now_ns();
        for (int e = 0; e < n; e++) {
            int i = (int) events[e].data.u32;
            conn_t *c = &conns[i];
            ssize_t r = read(c->fd, c->buf + c->len, BUF_SIZE - c->len);
            if (r == 0 || (r < 0 && errno != EAGAIN)) {
                int was_busy = c->busy;
                if (was_busy) busy--;
                if (reopen(i, r == 0 ? "connection closed by the server" : strerror(errno)) < 0) return 1;
                if (was_busy) idle_push(i); /* an idle one is on the idle list already */
                continue;
            }
            if (r < 0) continue;
            if (!c->busy) { /* bytes without a request: not HTTP as expected */
                protocol_errors++;
                if (reopen(i, "unsolicited bytes") < 0) return 1; /* idle: on the idle list already */
                continue;
            }
            c->len += (size_t) r;
            int status = 0, close_after = 0;
            int p = parse(c, &status, &close_after);
            if (p == 0) continue;
            busy--;
            if (p < 0) {
                protocol_errors++;
                if (protocol_errors == 1) fprintf(stderr, "http-openloop: not a Content-Length framed HTTP/1.1 response:\n%.*s\n", (int) (c->len < 400 ? c->len : 400), c->buf);
                if (reopen(i, "bad response") < 0) return 1;
                idle_push(i);
                continue;
            }
            completed++;
            if (t >= window_start && t < window_end) in_window++;
            if (status < 200 || status > 399) non2xx++;
            if (c->k >= warm_end_k) { hist_record(&lat, t - c->intended); recorded++; }
            c->busy = 0; c->len = 0;
            if (close_after && reopen(i, "") < 0) return 1;
            idle_push(i);
        }
    }
    int64_t unsent = total_k - next_k;
    errors += busy + unsent;
    if (busy + unsent > 0) fprintf(stderr, "http-openloop: %lld request(s) unanswered and %lld never sent 10 s after the last was due\n", (long long) busy, (long long) unsent);
    double measured_s = duration;
    /* rate: responses that arrived during the recorded window, per second; below target_rate, the target fell behind */
    printf("target_rate=%.0f conns=%d duration_s=%.1f recorded=%lld rate=%.0f completed=%lld errors=%lld non2xx=%lld protocol_errors=%lld reconnects=%lld"
           " p50_us=%.1f p90_us=%.1f p99_us=%.1f p999_us=%.1f max_us=%.1f mean_us=%.1f lag_p50_us=%.1f lag_p99_us=%.1f lag_p999_us=%.1f lag_max_us=%.1f\n",
           rate, nconns, measured_s, (long long) recorded, (double) in_window / measured_s, (long long) completed, (long long) errors,
           (long long) non2xx, (long long) protocol_errors, (long long) reconnects,
           hist_pct(&lat, 50) / 1e3, hist_pct(&lat, 90) / 1e3, hist_pct(&lat, 99) / 1e3, hist_pct(&lat, 99.9) / 1e3, lat.max / 1e3,
           lat.total ? lat.sum / (double) lat.total / 1e3 : 0.0,
           hist_pct(&lag, 50) / 1e3, hist_pct(&lag, 99) / 1e3, hist_pct(&lag, 99.9) / 1e3, lag.max / 1e3);
    return protocol_errors > 0 ? 1 : 0;
}
