/*
 * tb: a small mutual-TLS HTTP/1.1 load generator (OpenSSL 3, epoll) for mtlsgate's benchmarks.
 * bench/run.mjs builds it with:  cc -O2 -o bench/.build/tb bench/loadgen/tb.c -lssl -lcrypto
 *
 * It presents a client certificate, sends SNI, does not verify the server (no CA store: keeps client CPU down),
 * checks that every status line is 200 and reads each body in full by Content-Length.
 *
 * Modes (-m):
 *   hs      -P forked clients, each in a loop: connect, full handshake, GET with Connection: close, read to EOF.
 *           No session is offered.
 *   resume  the same, offering the last TLS 1.3 ticket received; reports the reuse ratio (SSL_session_reused).
 *   ka      -n keep-alive connections in a closed loop (warm-up -w excluded). With -r RATE: open loop at RATE
 *           requests/s, latency measured from the scheduled send time too (coordinated-omission corrected).
 *   idle    -n connections: handshake and one keep-alive request each, then held until SIGTERM/SIGINT (or -t s).
 *           Prints a JSON line when all are open, another at the end.
 * Server CPU: utime+stime from /proc/PID/stat of the -s PIDs and all their descendants (nginx master+workers, node
 * primary+workers), read at the start and the end of the measured window; likewise -b (the backend), the load
 * generator itself, and the whole box from /proc/stat. Output: one JSON line on stdout.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *USAGE =
    "usage: tb -m hs|resume|ka|idle -p PORT -c CERT -k KEY [options]\n"
    "  -a ADDR     server address (127.0.0.1)          -S NAME   SNI (bench.test); also the Host header\n"
    "  -u PATH     request path (/)                     -t SECS   measured window (10); idle: hold time (0 = until signal)\n"
    "  -w SECS     warm-up, not measured (2)            -P N      hs/resume: forked clients (8)\n"
    "  -n N        ka/idle: connections (64)            -r RATE   ka: open loop at RATE req/s\n"
    "  -C N        idle: handshakes in flight (32)      -s PIDS   server PIDs, comma-separated (children found via /proc)\n"
    "  -b PIDS     backend PIDs                          -L BYTES  max handshake message size accepted (16 MiB)\n";

/* ---------- time, histogram ---------- */
static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Log-linear buckets over nanoseconds: 64 linear sub-buckets per power of two (about 1.5 % precision). */
#define SUB 64
#define NBUCKETS (SUB * 60)
typedef struct { uint64_t n[NBUCKETS]; uint64_t count, max; } hist;
static int hidx(uint64_t v) {
  if (v < SUB) return (int)v;
  int msb = 63 - __builtin_clzll(v), shift = msb - 6;
  int i = (shift + 1) * SUB + (int)((v >> shift) & (SUB - 1));
  return i < NBUCKETS ? i : NBUCKETS - 1;
}
static double hval(int i) { /* midpoint of bucket i, ns */
  if (i < SUB) return i;
  int shift = i / SUB - 1;
  return ((double)(SUB + i % SUB) + 0.5) * (double)(1ull << shift);
}
static void hadd(hist *h, uint64_t v) { h->n[hidx(v)]++; h->count++; if (v > h->max) h->max = v; }
static void hmerge(hist *into, const hist *h) {
  for (int i = 0; i < NBUCKETS; i++) into->n[i] += h->n[i];
  into->count += h->count;
  if (h->max > into->max) into->max = h->max;
}
static double hpct_ms(const hist *h, double q) {
  if (!h->count) return 0;
  uint64_t want = (uint64_t)(q * (double)h->count + 0.5), seen = 0;
  if (want < 1) want = 1;
  for (int i = 0; i < NBUCKETS; i++) if ((seen += h->n[i]) >= want) return hval(i) / 1e6;
  return (double)h->max / 1e6;
}
static void print_hist(const char *name, const hist *h) {
  printf(",\"%s\":{\"n\":%llu,\"p50\":%.4f,\"p90\":%.4f,\"p99\":%.4f,\"p999\":%.4f,\"max\":%.4f}", name, (unsigned long long)h->count,
         hpct_ms(h, .5), hpct_ms(h, .9), hpct_ms(h, .99), hpct_ms(h, .999), (double)h->max / 1e6);
}

/* ---------- CPU sampling from /proc ---------- */
#define MAXP 4096
typedef struct { int n; pid_t pid[MAXP]; uint64_t ticks[MAXP]; } cpuset;
static long clk_tck;

static int read_stat(pid_t pid, pid_t *ppid, uint64_t *ticks) {
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = 0;
  char *p = strrchr(buf, ')'); /* the command name may contain spaces */
  if (!p) return -1;
  unsigned long long ut = 0, st = 0;
  int pp = 0;
  /* after ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
  if (sscanf(p + 2, "%*c %d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &pp, &ut, &st) != 3) return -1;
  if (ppid) *ppid = pp;
  if (ticks) *ticks = ut + st;
  return 0;
}

/* The roots and all their descendants, with their CPU ticks now. */
static void sample(cpuset *out, const pid_t *roots, int nroots) {
  static pid_t pids[MAXP], ppids[MAXP];
  static uint64_t ticks[MAXP];
  int n = 0;
  out->n = 0;
  if (!nroots) return;
  DIR *d = opendir("/proc");
  struct dirent *e;
  while (d && (e = readdir(d)) && n < MAXP) {
    if (!isdigit((unsigned char)e->d_name[0])) continue;
    pid_t pid = atoi(e->d_name);
    if (read_stat(pid, &ppids[n], &ticks[n]) == 0) pids[n++] = pid;
  }
  if (d) closedir(d);
  for (int r = 0; r < nroots; r++) /* roots first, then sweep until no new descendant appears */
    for (int i = 0; i < n; i++) if (pids[i] == roots[r] && out->n < MAXP) { out->pid[out->n] = pids[i]; out->ticks[out->n++] = ticks[i]; }
  for (int grew = 1; grew;) {
    grew = 0;
    for (int i = 0; i < n; i++) {
      int in = 0, parent_in = 0;
      for (int j = 0; j < out->n; j++) { if (out->pid[j] == pids[i]) in = 1; if (out->pid[j] == ppids[i]) parent_in = 1; }
      if (!in && parent_in && out->n < MAXP) { out->pid[out->n] = pids[i]; out->ticks[out->n++] = ticks[i]; grew = 1; }
    }
  }
}
/* CPU seconds used between two samples (a process born in between counts from zero). */
static double cpu_between(const cpuset *a, const cpuset *b) {
  uint64_t t = 0;
  for (int i = 0; i < b->n; i++) {
    uint64_t before = 0;
    for (int j = 0; j < a->n; j++) if (a->pid[j] == b->pid[i]) before = a->ticks[j];
    if (b->ticks[i] >= before) t += b->ticks[i] - before;
  }
  return (double)t / (double)clk_tck;
}
static uint64_t box_busy_ticks(void) {
  unsigned long long v[8] = {0};
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  int ok = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]);
  fclose(f);
  return ok == 8 ? v[0] + v[1] + v[2] + v[5] + v[6] + v[7] : 0; /* all but idle and iowait */
}
static double self_cpu(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return ru.ru_utime.tv_sec + ru.ru_stime.tv_sec + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

typedef struct { uint64_t t, box; cpuset srv, be, kids; double self; } snap;
static pid_t srv_pids[64], be_pids[64], kid_pids[256];
static int nsrv, nbe, nkids;
static void take(snap *s) {
  s->t = now_ns();
  sample(&s->srv, srv_pids, nsrv);
  sample(&s->be, be_pids, nbe);
  sample(&s->kids, kid_pids, nkids);
  s->self = self_cpu();
  s->box = box_busy_ticks();
}

/* ---------- options, TLS context, HTTP response parsing ---------- */
static const char *mode = NULL, *addr = "127.0.0.1", *sni = "bench.test", *path = "/", *cert = NULL, *key = NULL;
static int port = 0, procs = 8, nconns = 64, inflight = 32;
static double secs = 10, warm = 2, rate = 0;
static long max_cert_list = 16 << 20;
static struct sockaddr_in sa;
static char req_ka[512], req_close[512];
static size_t req_ka_len, req_close_len;
static char first_err[160], sample_body[200];

static void note_err(const char *what) {
  if (first_err[0]) return;
  unsigned long e = ERR_peek_last_error();
  char ebuf[120] = "";
  if (e) ERR_error_string_n(e, ebuf, sizeof ebuf);
  else if (errno) snprintf(ebuf, sizeof ebuf, "%s", strerror(errno));
  snprintf(first_err, sizeof first_err, "%s%s%s", what, ebuf[0] ? ": " : "", ebuf);
}

static SSL_SESSION *last_session; /* resume mode: the newest ticket (per process) */
static int on_new_session(SSL *ssl, SSL_SESSION *s) {
  (void)ssl;
  if (last_session) SSL_SESSION_free(last_session);
  last_session = s;
  return 1; /* we keep the reference */
}

static SSL_CTX *make_ctx(int resume) {
  SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
  if (!ctx) { ERR_print_errors_fp(stderr); exit(2); }
  SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
  SSL_CTX_set_mode(ctx, SSL_MODE_NO_AUTO_CHAIN); /* send exactly what the cert file holds (the leaf) */
  SSL_CTX_set_max_cert_list(ctx, max_cert_list); /* a big truststore's CA names make a big CertificateRequest */
  if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1 || SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
      SSL_CTX_check_private_key(ctx) != 1) {
    fprintf(stderr, "tb: cannot use %s / %s:\n", cert, key);
    ERR_print_errors_fp(stderr);
    exit(2);
  }
  if (resume) {
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
  }
  return ctx;
}

typedef struct { size_t hdr, got; long long clen; int status, have_hdr; char buf[8192]; size_t len; } resp;
static void resp_reset(resp *r) { r->hdr = r->got = 0; r->clen = -1; r->status = 0; r->have_hdr = 0; r->len = 0; }
/* Feed bytes; 1 = response complete, 0 = need more, -1 = malformed. */
static int resp_feed(resp *r, const char *p, size_t n) {
  if (r->have_hdr) { r->got += n; goto check; }
  if (r->len + n > sizeof r->buf) return -1;
  memcpy(r->buf + r->len, p, n);
  r->len += n;
  char *end = memmem(r->buf, r->len, "\r\n\r\n", 4);
  if (!end) return 0;
  r->hdr = (size_t)(end - r->buf) + 4;
  r->have_hdr = 1;
  if (r->len < 12 || memcmp(r->buf, "HTTP/1.", 7) != 0) return -1;
  r->status = atoi(r->buf + 9);
  for (char *l = memchr(r->buf, '\n', r->hdr); l && l < r->buf + r->hdr; l = memchr(l + 1, '\n', (size_t)(r->buf + r->hdr - l - 1)))
    if (strncasecmp(l + 1, "content-length:", 15) == 0) r->clen = atoll(l + 16);
  if (r->clen < 0) return -1; /* chunked or close-delimited: not what these servers send for this response */
  r->got = r->len - r->hdr;
  if (!sample_body[0] && r->got > 0) { /* what the proxy made the backend echo, for the record */
    size_t k = r->got < sizeof sample_body - 1 ? r->got : sizeof sample_body - 1;
    memcpy(sample_body, r->buf + r->hdr, k);
  }
check:
  if ((long long)r->got > r->clen) return -1;
  return (long long)r->got == r->clen;
}

static int tcp_socket(int nonblock) {
  int fd = socket(AF_INET, SOCK_STREAM | (nonblock ? SOCK_NONBLOCK : 0), 0), one = 1;
  if (fd < 0) return -1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (!nonblock) {
    struct timeval tv = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  return fd;
}

static volatile sig_atomic_t got_signal;
static void on_signal(int s) { (void)s; got_signal = 1; }

/* ---------- hs / resume: forked blocking clients ---------- */
typedef struct { uint64_t ok, err, bad, reused, bytes_in; hist lat; char err_msg[160]; } kid_stats;
typedef struct { volatile int stop, window; } control;

/* One connection: 0 ok, 1 connection/TLS error, 2 bad status. */
static int one_connection(SSL_CTX *ctx, int resume, int *reused, uint64_t *bytes_in) {
  int fd = tcp_socket(0), rc = 1;
  SSL *ssl = NULL;
  resp r;
  char buf[16384];
  errno = 0;
  ERR_clear_error();
  if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) { note_err("connect"); goto out; }
  ssl = SSL_new(ctx);
  SSL_set_fd(ssl, fd);
  SSL_set_tlsext_host_name(ssl, sni);
  if (resume && last_session) SSL_set_session(ssl, last_session);
  if (SSL_connect(ssl) != 1) { note_err("handshake"); goto out; }
  if (SSL_write(ssl, req_close, (int)req_close_len) != (int)req_close_len) { note_err("write"); goto out; }
  resp_reset(&r);
  for (int done = 0; !done;) {
    int n = SSL_read(ssl, buf, sizeof buf);
    if (n <= 0) { note_err("read (response cut short)"); goto out; }
    if ((done = resp_feed(&r, buf, (size_t)n)) < 0) { note_err("malformed response"); goto out; }
  }
  while (SSL_read(ssl, buf, sizeof buf) > 0) {} /* Connection: close: the server closes; read to EOF */
  *reused = SSL_session_reused(ssl);
  *bytes_in = BIO_number_read(SSL_get_rbio(ssl));
  rc = r.status == 200 ? 0 : 2;
  if (rc == 2 && !first_err[0]) snprintf(first_err, sizeof first_err, "status %d", r.status);
  SSL_set_shutdown(ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN); /* a session freed unshut is made unresumable */
out:
  if (ssl) SSL_free(ssl);
  if (fd >= 0) close(fd);
  return rc;
}

static void kid_loop(kid_stats *st, control *ctl, int resume) {
  SSL_CTX *ctx = make_ctx(resume);
  signal(SIGTERM, SIG_DFL);
  while (!ctl->stop) {
    int reused = 0;
    uint64_t bytes = 0, t0 = now_ns();
    int rc = one_connection(ctx, resume, &reused, &bytes);
    uint64_t t1 = now_ns();
    if (rc == 0) {
      if (ctl->window) hadd(&st->lat, t1 - t0);
      st->bytes_in += bytes;
      st->reused += (uint64_t)reused;
      __atomic_add_fetch(&st->ok, 1, __ATOMIC_RELEASE);
    } else {
      __atomic_add_fetch(rc == 2 ? &st->bad : &st->err, 1, __ATOMIC_RELEASE);
      if (first_err[0] && !st->err_msg[0]) memcpy(st->err_msg, first_err, sizeof st->err_msg);
      usleep(1000); /* a refused connection must not spin */
    }
  }
  _exit(0);
}

static void sleep_until(uint64_t t) {
  for (uint64_t n; (n = now_ns()) < t && !got_signal;) {
    struct timespec ts = {(time_t)((t - n) / 1000000000ull), (long)((t - n) % 1000000000ull)};
    nanosleep(&ts, NULL);
  }
}

static void print_common(const snap *a, const snap *b, uint64_t ok, uint64_t err, uint64_t bad, double client_cpu) {
  double w = (double)(b->t - a->t) / 1e9, srv = cpu_between(&a->srv, &b->srv), be = cpu_between(&a->be, &b->be);
  double box = (double)(b->box - a->box) / (double)clk_tck;
  printf("{\"mode\":\"%s\",\"window_s\":%.3f,\"ok\":%llu,\"errors\":%llu,\"non200\":%llu,\"rate\":%.1f", mode, w, (unsigned long long)ok,
         (unsigned long long)err, (unsigned long long)bad, ok / w);
  printf(",\"server_cpu_s\":%.3f,\"server_cores\":%.3f,\"per_server_core\":%.1f,\"server_pids\":%d", srv, srv / w, srv > 0 ? ok / srv : 0, b->srv.n);
  printf(",\"backend_cores\":%.3f,\"client_cores\":%.3f,\"box_busy_cores\":%.3f,\"other_cores\":%.3f", be / w, client_cpu / w, box / w,
         (box - srv - be - client_cpu) / w);
}

static void print_tail(void) {
  printf(",\"first_error\":\"");
  for (const char *p = first_err; *p; p++) putchar(*p == '"' || *p == '\\' ? '\'' : (unsigned char)*p < 32 ? ' ' : *p);
  printf("\",\"sample\":\"");
  for (const char *p = sample_body; *p; p++) putchar(*p == '"' || *p == '\\' ? '\'' : (unsigned char)*p < 32 ? ' ' : *p);
  printf("\"}\n");
  fflush(stdout);
}

static int run_forked(int resume) {
  kid_stats *st = mmap(NULL, sizeof(kid_stats) * (size_t)procs, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  control *ctl = mmap(NULL, sizeof(control), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (st == MAP_FAILED || ctl == MAP_FAILED) { perror("mmap"); return 2; }
  memset(st, 0, sizeof(kid_stats) * (size_t)procs);
  for (int i = 0; i < procs; i++) {
    pid_t pid = fork();
    if (pid == 0) kid_loop(&st[i], ctl, resume);
    if (pid < 0) { perror("fork"); ctl->stop = 1; break; }
    kid_pids[nkids++] = pid;
  }
  uint64_t start = now_ns();
  sleep_until(start + (uint64_t)(warm * 1e9));
  uint64_t ok0 = 0, err0 = 0, bad0 = 0, re0 = 0, by0 = 0, ok1 = 0, err1 = 0, bad1 = 0, re1 = 0, by1 = 0;
  snap a, b;
  take(&a);
  for (int i = 0; i < procs; i++) { ok0 += __atomic_load_n(&st[i].ok, __ATOMIC_ACQUIRE); err0 += st[i].err; bad0 += st[i].bad; re0 += st[i].reused; by0 += st[i].bytes_in; }
  ctl->window = 1;
  sleep_until(a.t + (uint64_t)(secs * 1e9));
  ctl->window = 0;
  take(&b);
  for (int i = 0; i < procs; i++) { ok1 += __atomic_load_n(&st[i].ok, __ATOMIC_ACQUIRE); err1 += st[i].err; bad1 += st[i].bad; re1 += st[i].reused; by1 += st[i].bytes_in; }
  ctl->stop = 1;
  uint64_t deadline = now_ns() + 12000000000ull; /* a client stuck in a read times out after 10 s */
  for (int left = nkids; left > 0;) {
    if (waitpid(-1, NULL, WNOHANG) > 0) { left--; continue; }
    if (now_ns() > deadline) { for (int i = 0; i < nkids; i++) kill(kid_pids[i], SIGKILL); deadline = UINT64_MAX; }
    usleep(2000);
  }
  hist *lat = calloc(1, sizeof(hist));
  for (int i = 0; i < procs; i++) { hmerge(lat, &st[i].lat); if (!first_err[0] && st[i].err_msg[0]) memcpy(first_err, st[i].err_msg, sizeof first_err); }
  uint64_t ok = ok1 - ok0;
  print_common(&a, &b, ok, err1 - err0, bad1 - bad0, cpu_between(&a.kids, &b.kids) + (b.self - a.self));
  printf(",\"procs\":%d,\"reused\":%llu,\"reuse_ratio\":%.4f,\"bytes_in_per_conn\":%.0f", procs, (unsigned long long)(re1 - re0),
         ok ? (double)(re1 - re0) / (double)ok : 0, ok ? (double)(by1 - by0) / (double)ok : 0);
  print_hist("lat_ms", lat);
  print_tail();
  return 0;
}

/* ---------- ka / idle: one process, non-blocking connections on epoll ---------- */
enum { S_HANDSHAKE, S_WRITE, S_READ, S_IDLE, S_CLOSED };
typedef struct conn { int fd, state, events, in_idle; SSL *ssl; resp rp; uint64_t t_send, t_sched; } conn;

static int ep, tfd_sched = -1, phase_run, open_done, opened, open_failed, closed_by_server;
static conn *conns;
static SSL_CTX *g_ctx;
static int *idle_stack, n_idle;
static uint64_t *backlog, bl_head, bl_tail, bl_cap = 1u << 20, dropped;
static uint64_t ws = UINT64_MAX, we = UINT64_MAX, done_ok, done_err, done_bad, t_begin;
static hist *h_lat, *h_sched;

static void want(conn *c, int ev) {
  if (c->events == ev) return;
  struct epoll_event e = {.events = (uint32_t)ev, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &e);
  c->events = ev;
}
static void conn_open(conn *c) {
  int in_idle = c->in_idle; /* a replaced connection may still be listed on the idle stack */
  errno = 0;
  ERR_clear_error();
  memset(c, 0, sizeof *c);
  c->in_idle = in_idle;
  c->fd = tcp_socket(1);
  if (c->fd < 0 || (connect(c->fd, (struct sockaddr *)&sa, sizeof sa) < 0 && errno != EINPROGRESS)) {
    note_err("connect");
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->state = S_CLOSED;
    open_failed++;
    return;
  }
  c->ssl = SSL_new(g_ctx);
  SSL_set_fd(c->ssl, c->fd);
  SSL_set_tlsext_host_name(c->ssl, sni);
  c->state = S_HANDSHAKE;
  c->events = EPOLLOUT;
  struct epoll_event e = {.events = EPOLLOUT, .data.ptr = c};
  epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &e);
}
static void conn_close(conn *c) {
  if (c->ssl) SSL_free(c->ssl);
  if (c->fd >= 0) close(c->fd); /* also removes it from epoll */
  c->ssl = NULL;
  c->fd = -1;
  c->state = S_CLOSED;
}
static void park(conn *c) {
  c->state = S_IDLE;
  want(c, EPOLLIN); /* post-handshake messages (tickets) and a server that closes are read while idle */
  if (!c->in_idle && strcmp(mode, "idle") != 0) { c->in_idle = 1; idle_stack[n_idle++] = (int)(c - conns); }
}
static void send_req(conn *c, uint64_t sched, uint64_t t) { c->t_sched = sched; c->t_send = t; c->state = S_WRITE; }

/* A connection failed: count it and, while measuring ka, replace it so the load stays at -n connections. */
static void conn_fail(conn *c, const char *what) {
  note_err(what);
  conn_close(c);
  if (!strcmp(mode, "idle")) { if (open_done) closed_by_server++; else open_failed++; return; }
  if (phase_run) { done_err++; if (!got_signal) conn_open(c); } /* keep -n connections under load */
  else open_failed++;
}

static void on_response(conn *c, uint64_t t) {
  int okst = c->rp.status == 200;
  if (!okst && !first_err[0]) snprintf(first_err, sizeof first_err, "status %d", c->rp.status);
  if (!strcmp(mode, "idle")) {
    if (okst) { opened++; park(c); }
    else { open_failed++; conn_close(c); }
    return;
  }
  uint64_t ref = rate > 0 ? c->t_sched : t;
  if (ref >= ws && ref < we) {
    if (okst) done_ok++; else done_bad++;
    hadd(h_lat, t - c->t_send);
    if (rate > 0) hadd(h_sched, t - c->t_sched);
  }
  if (rate <= 0) send_req(c, t, t); /* closed loop: the next request at once */
  else if (bl_head < bl_tail) send_req(c, backlog[bl_head++ % bl_cap], t);
  else park(c);
}

static void drive(conn *c) {
  char buf[16384];
  for (;;) {
    ERR_clear_error();
    errno = 0;
    int r, e;
    switch (c->state) {
    case S_HANDSHAKE:
      if ((r = SSL_connect(c->ssl)) == 1) {
        if (!strcmp(mode, "idle") || (phase_run && rate <= 0)) send_req(c, now_ns(), now_ns());
        else { park(c); return; }
        continue;
      }
      e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ) { want(c, EPOLLIN); return; }
      if (e == SSL_ERROR_WANT_WRITE) { want(c, EPOLLOUT); return; }
      conn_fail(c, "handshake");
      return;
    case S_WRITE: {
      if ((r = SSL_write(c->ssl, req_ka, (int)req_ka_len)) > 0) { resp_reset(&c->rp); c->state = S_READ; want(c, EPOLLIN); continue; }
      e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ) { want(c, EPOLLIN); return; }
      if (e == SSL_ERROR_WANT_WRITE) { want(c, EPOLLOUT); return; }
      conn_fail(c, "write");
      return;
    }
    case S_READ:
    case S_IDLE:
      if ((r = SSL_read(c->ssl, buf, sizeof buf)) > 0) {
        if (c->state == S_IDLE) continue; /* nothing expected: ignore */
        int d = resp_feed(&c->rp, buf, (size_t)r);
        if (d < 0) { conn_fail(c, "malformed response"); return; }
        if (d > 0) on_response(c, now_ns());
        continue;
      }
      e = SSL_get_error(c->ssl, r);
      if (e == SSL_ERROR_WANT_READ) { want(c, EPOLLIN); return; }
      if (e == SSL_ERROR_WANT_WRITE) { want(c, EPOLLOUT); return; }
      conn_fail(c, c->state == S_IDLE ? "closed by the server while idle" : "read (response cut short)");
      return;
    default:
      return;
    }
  }
}

/* Open loop: every request due by now is sent on an idle connection, or queued with its scheduled time. */
static void schedule(uint64_t t, uint64_t *issued) {
  for (;; (*issued)++) {
    uint64_t at = t_begin + (uint64_t)((double)*issued * 1e9 / rate);
    if (at > t) { /* wake exactly then: a periodic timer would add up to one period of delay */
      struct itimerspec its = {{0, 0}, {(time_t)(at / 1000000000ull), (long)(at % 1000000000ull)}};
      timerfd_settime(tfd_sched, TFD_TIMER_ABSTIME, &its, NULL);
      return;
    }
    conn *c = NULL;
    while (n_idle > 0 && !c) {
      conn *k = &conns[idle_stack[--n_idle]];
      k->in_idle = 0;
      if (k->state == S_IDLE) c = k;
    }
    if (c) { send_req(c, at, t); drive(c); }
    else if (bl_tail - bl_head < bl_cap) backlog[bl_tail++ % bl_cap] = at;
    else dropped++;
  }
}

static void loop_once(int timeout_ms, int tfd, uint64_t *issued) {
  struct epoll_event ev[256];
  int n = epoll_wait(ep, ev, 256, timeout_ms);
  for (int i = 0; i < n; i++) {
    if (ev[i].data.ptr == NULL) { uint64_t x; if (read(tfd, &x, sizeof x)) {} continue; }
    drive((conn *)ev[i].data.ptr);
  }
  if (rate > 0 && phase_run) schedule(now_ns(), issued);
}

static int run_epoll(void) {
  int is_idle = !strcmp(mode, "idle"), tfd = -1;
  uint64_t issued = 0;
  g_ctx = make_ctx(0);
  ep = epoll_create1(0);
  conns = calloc((size_t)nconns, sizeof(conn));
  idle_stack = calloc((size_t)nconns, sizeof(int));
  backlog = calloc(bl_cap, sizeof(uint64_t));
  h_lat = calloc(1, sizeof(hist));
  h_sched = calloc(1, sizeof(hist));
  /* Phase 1: open the connections (idle: at most -C handshakes in flight), bounded to 60 s. */
  uint64_t t_open = now_ns(), open_deadline = t_open + 60000000000ull;
  int next = 0;
  for (;;) {
    int busy = next - (is_idle ? opened : n_idle) - open_failed; /* handshakes (and idle: first requests) in flight */
    while (next < nconns && (!is_idle || busy < inflight)) { conn_open(&conns[next++]); busy++; }
    int settled = is_idle ? opened + open_failed : n_idle + open_failed;
    if ((next == nconns && settled >= nconns) || now_ns() > open_deadline || got_signal) break;
    loop_once(100, tfd, &issued);
  }
  open_done = 1;
  double open_s = (double)(now_ns() - t_open) / 1e9;
  if (is_idle) {
    int open_now = 0;
    for (int i = 0; i < nconns; i++) open_now += conns[i].state == S_IDLE;
    printf("{\"mode\":\"idle\",\"event\":\"ready\",\"open\":%d,\"failed\":%d,\"open_s\":%.3f}\n", open_now, open_failed, open_s);
    fflush(stdout);
    uint64_t hold_end = secs > 0 ? now_ns() + (uint64_t)(secs * 1e9) : UINT64_MAX;
    while (!got_signal && now_ns() < hold_end) loop_once(200, tfd, &issued);
    open_now = 0;
    for (int i = 0; i < nconns; i++) open_now += conns[i].state == S_IDLE;
    printf("{\"mode\":\"idle\",\"event\":\"done\",\"open\":%d,\"failed\":%d,\"closed_by_server\":%d", open_now, open_failed, closed_by_server);
    print_tail();
    return 0;
  }
  /* Phase 2: the load. */
  phase_run = 1;
  t_begin = now_ns();
  ws = t_begin + (uint64_t)(warm * 1e9);
  we = ws + (uint64_t)(secs * 1e9);
  if (rate > 0) {
    tfd = tfd_sched = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
    struct epoll_event e = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &e);
    schedule(t_begin, &issued);
  } else {
    while (n_idle > 0) { conn *c = &conns[idle_stack[--n_idle]]; c->in_idle = 0; if (c->state == S_IDLE) { send_req(c, t_begin, t_begin); drive(c); } }
  }
  snap a, b;
  int have_a = 0;
  uint64_t bl_at_ws = 0;
  for (;;) {
    uint64_t t = now_ns();
    if (!have_a && t >= ws) { take(&a); have_a = 1; done_ok = done_bad = done_err = 0; bl_at_ws = bl_tail - bl_head; }
    if (t >= we || got_signal) break;
    uint64_t until = have_a ? we : ws;
    int ms = (int)((until - t) / 1000000ull) + 1;
    loop_once(ms > 100 ? 100 : ms, tfd, &issued);
  }
  /* Open loop: let responses to requests scheduled inside the window arrive (bounded to 5 s). */
  take(&b);
  if (!have_a) a = b;
  for (uint64_t end = now_ns() + 5000000000ull; rate > 0 && now_ns() < end;) {
    int pending = (bl_tail > bl_head);
    for (int i = 0; i < nconns && !pending; i++) pending = (conns[i].state == S_WRITE || conns[i].state == S_READ) && conns[i].t_sched < we;
    if (!pending) break;
    loop_once(10, tfd, &issued);
  }
  print_common(&a, &b, done_ok, done_err, done_bad, b.self - a.self);
  printf(",\"conns\":%d,\"open_s\":%.3f,\"open_failed\":%d", nconns, open_s, open_failed);
  if (rate > 0) printf(",\"target_rate\":%.0f,\"backlog_at_start\":%llu,\"backlog_at_end\":%llu,\"dropped\":%llu", rate,
                       (unsigned long long)bl_at_ws, (unsigned long long)(bl_tail - bl_head), (unsigned long long)dropped);
  print_hist("lat_ms", h_lat);
  if (rate > 0) print_hist("lat_sched_ms", h_sched);
  print_tail();
  return 0;
}

static int parse_pids(const char *s, pid_t *out, int max) {
  int n = 0;
  for (const char *p = s; *p && n < max;) {
    out[n++] = (pid_t)strtol(p, (char **)&p, 10);
    while (*p == ',' || *p == ' ') p++;
  }
  return n;
}

int main(int argc, char **argv) {
  int o;
  while ((o = getopt(argc, argv, "m:a:p:S:u:c:k:P:n:t:w:r:C:s:b:L:h")) != -1) {
    switch (o) {
    case 'm': mode = optarg; break;
    case 'a': addr = optarg; break;
    case 'p': port = atoi(optarg); break;
    case 'S': sni = optarg; break;
    case 'u': path = optarg; break;
    case 'c': cert = optarg; break;
    case 'k': key = optarg; break;
    case 'P': procs = atoi(optarg); break;
    case 'n': nconns = atoi(optarg); break;
    case 't': secs = atof(optarg); break;
    case 'w': warm = atof(optarg); break;
    case 'r': rate = atof(optarg); break;
    case 'C': inflight = atoi(optarg); break;
    case 's': nsrv = parse_pids(optarg, srv_pids, 64); break;
    case 'b': nbe = parse_pids(optarg, be_pids, 64); break;
    case 'L': max_cert_list = atol(optarg); break;
    default: fputs(USAGE, o == 'h' ? stdout : stderr); return o == 'h' ? 0 : 2;
    }
  }
  int known = mode && (!strcmp(mode, "hs") || !strcmp(mode, "resume") || !strcmp(mode, "ka") || !strcmp(mode, "idle"));
  if (!known || port <= 0 || !cert || !key || procs < 1 || procs > 256 || nconns < 1 || inflight < 1 || secs < 0 || warm < 0) {
    fputs(USAGE, stderr);
    return 2;
  }
  clk_tck = sysconf(_SC_CLK_TCK);
  memset(&sa, 0, sizeof sa);
  sa.sin_family = AF_INET;
  sa.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, addr, &sa.sin_addr) != 1) { fprintf(stderr, "tb: bad address %s\n", addr); return 2; }
  req_ka_len = (size_t)snprintf(req_ka, sizeof req_ka, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tb\r\n\r\n", path, sni);
  req_close_len = (size_t)snprintf(req_close, sizeof req_close, "GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: tb\r\nConnection: close\r\n\r\n", path, sni);
  struct rlimit rl; /* idle mode holds thousands of sockets */
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) { rl.rlim_cur = rl.rlim_max; setrlimit(RLIMIT_NOFILE, &rl); }
  signal(SIGPIPE, SIG_IGN);
  struct sigaction act = {.sa_handler = on_signal};
  sigaction(SIGINT, &act, NULL);
  sigaction(SIGTERM, &act, NULL);
  if (!strcmp(mode, "hs") || !strcmp(mode, "resume")) return run_forked(!strcmp(mode, "resume"));
  return run_epoll();
}
