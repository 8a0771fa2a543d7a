/*
 * cuju-dirty MIB PAGES_PER_SEC [REPORT_SECS [RATE_FILE]]
 *
 * A guest workload for migration and fault-tolerance tests: allocates MIB MiB,
 * writes every page once, prints "cuju-dirty: ready ..." and then writes one new
 * 8-byte value per page, round-robin over the pages, at PAGES_PER_SEC pages per
 * second (0 = as fast as it can) until killed. With REPORT_SECS > 0 it prints the
 * rate it really achieved every REPORT_SECS seconds (0: no reports).
 *
 * With RATE_FILE, SIGUSR1 makes it read a new PAGES_PER_SEC from that file and go on
 * at that rate ("cuju-dirty: rate N pages/s" confirms), e.g.
 *   cuju-dirty 64 0 0 /tmp/rate & d=$!;  echo 5000 > /tmp/rate; kill -USR1 $d
 * Allocating is the slow part in an emulated guest kernel (several seconds per MiB on
 * kvm_pvm hosts: every page is allocated and zeroed by emulated code), so tests
 * allocate once and change the rate; `kill -STOP` / `kill -CONT` pause it.
 *
 * Why it looks the way it does:
 * - On kvm_pvm hosts guest user space runs natively but every guest syscall and page
 *   fault runs in KVM's instruction emulator (~2 M instructions/s). So the hot loop
 *   makes no syscalls: it paces itself with rdtsc, calibrated once at start against
 *   clock_gettime across a nanosleep, and all pages are faulted in up front with one
 *   mmap(MAP_POPULATE).
 * - No libc (-nostdlib, raw syscalls): a static glibc binary is ~800 KiB, and the
 *   guest kernel copies the initramfs in emulated code (~45 s for 2 MiB), so every
 *   KiB here is boot time for every test. This one is a few KiB.
 * - A page's value changes on every visit (a running sequence number, at a word
 *   offset that moves too), so a page a migration copies too early really differs.
 * - Pacing does not make up for time the process did not run (the VM paused for a
 *   switch-over, another task on the vCPU): it catches up at most MAX_LAG_SECS worth
 *   of writes, so a pause is not followed by a burst far above the set rate.
 */
typedef unsigned long u64;
typedef long s64;
typedef unsigned int u32;

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_rt_sigaction 13
#define SYS_rt_sigreturn 15
#define SYS_mmap 9
#define SYS_nanosleep 35
#define SYS_clock_gettime 228
#define SYS_exit_group 231

#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 0x02
#define MAP_ANONYMOUS 0x20
#define MAP_POPULATE 0x8000
#define CLOCK_MONOTONIC 1
#define O_RDONLY 0
#define SIGUSR1 10
#define SA_RESTORER 0x04000000
#define SA_RESTART 0x10000000

#define PAGE_SIZE 4096UL
#define WORDS_PER_PAGE (PAGE_SIZE / 8)
#define CALIBRATION_NS 250000000L
/* Writes between two rdtsc reads of the paced loop: small enough to keep bursts short. */
#define BATCH 64
#define MAX_LAG_SECS_DIVISOR 20 /* catch up at most 1/20 s (50 ms) of writes */

struct timespec_k {
	s64 tv_sec;
	s64 tv_nsec;
};

static s64 syscall6(s64 n, s64 a, s64 b, s64 c, s64 d, s64 e, s64 f)
{
	register s64 r10 __asm__("r10") = d;
	register s64 r8 __asm__("r8") = e;
	register s64 r9 __asm__("r9") = f;
	s64 ret;
	__asm__ volatile("syscall"
			 : "=a"(ret)
			 : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
			 : "rcx", "r11", "memory");
	return ret;
}

static inline u64 rdtsc(void)
{
	u32 lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((u64)hi << 32) | lo;
}

/*
 * a * b / c with a 128-bit intermediate (mul, then div; c must be > 0 and the quotient
 * fit in 64 bits). gcc would call libgcc's __udivti3 for an __int128 division.
 */
static inline u64 muldiv(u64 a, u64 b, u64 c)
{
	u64 q, r;
	__asm__("mulq %3\n\tdivq %4" : "=a"(q), "=&d"(r) : "a"(a), "rm"(b), "rm"(c) : "cc");
	return q;
}

static inline void cpu_relax(void)
{
	__asm__ volatile("pause" ::: "memory");
}

static __attribute__((noreturn)) void exit_group(int code)
{
	for (;;)
		syscall6(SYS_exit_group, code, 0, 0, 0, 0, 0);
}

/* ---- output: one write() per line ---- */

struct line {
	char buf[256];
	u32 len;
};

static void put_str(struct line *l, const char *s)
{
	while (*s && l->len < sizeof(l->buf))
		l->buf[l->len++] = *s++;
}

static void put_u64(struct line *l, u64 v)
{
	char tmp[20];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n && l->len < sizeof(l->buf))
		l->buf[l->len++] = tmp[--n];
}

/* v/100 with two decimals. */
static void put_centi(struct line *l, u64 v)
{
	put_u64(l, v / 100);
	put_str(l, ".");
	if (v % 100 < 10)
		put_str(l, "0");
	put_u64(l, v % 100);
}

static void emit(int fd, struct line *l)
{
	put_str(l, "\n");
	syscall6(SYS_write, fd, (s64)l->buf, l->len, 0, 0, 0);
	l->len = 0;
}

static __attribute__((noreturn)) void usage(const char *why)
{
	struct line l = {.len = 0};
	put_str(&l, "cuju-dirty: ");
	put_str(&l, why);
	emit(2, &l);
	put_str(&l, "usage: cuju-dirty MIB PAGES_PER_SEC [REPORT_SECS [RATE_FILE]]  (PAGES_PER_SEC 0 = as fast as possible; SIGUSR1 re-reads it from RATE_FILE)");
	emit(2, &l);
	exit_group(2);
}

/* Decimal digits up to `end` (or NUL) into *out; 0 when there are none or too many. */
static int parse_decimal(const char *s, const char *end, u64 *out)
{
	u64 v = 0;
	const char *p = s;
	for (; p != end && *p; p++) {
		if (*p < '0' || *p > '9' || v > (~0UL - 9) / 10)
			return 0;
		v = v * 10 + (u64)(*p - '0');
	}
	*out = v;
	return p != s;
}

/* A decimal argument, or usage(). */
static u64 parse_u64(const char *s, const char *what)
{
	u64 v;
	if (!parse_decimal(s, 0, &v))
		usage(what);
	return v;
}

/* ---- SIGUSR1: a new rate from RATE_FILE ---- */

struct kernel_sigaction {
	void (*handler)(int);
	u64 flags;
	void (*restorer)(void);
	u64 mask;
};

static const char *rate_file;
/* Set by the handler, read once per loop iteration by the hot loop (a load, no syscall). */
static volatile u64 new_rate;
static volatile u64 rate_changes;

/* The handler returns here, which asks the kernel to restore the interrupted context. */
void cuju_sigreturn(void);
__asm__(".globl cuju_sigreturn\n"
	"cuju_sigreturn:\n"
	"	mov $15, %eax\n" /* SYS_rt_sigreturn */
	"	syscall\n"
	"	hlt\n");

static void on_sigusr1(int sig)
{
	(void)sig;
	struct line l = {.len = 0};
	char buf[32];
	u64 v;
	s64 fd = syscall6(SYS_open, (s64)rate_file, O_RDONLY, 0, 0, 0, 0);
	s64 n = fd < 0 ? -1 : syscall6(SYS_read, fd, (s64)buf, sizeof(buf), 0, 0, 0);
	if (fd >= 0)
		syscall6(SYS_close, fd, 0, 0, 0, 0, 0);
	const char *end = buf + (n > 0 ? n : 0);
	for (const char *p = buf; p < end; p++) {
		if (*p == '\n' || *p == ' ') {
			end = p;
			break;
		}
	}
	if (n <= 0 || !parse_decimal(buf, end, &v)) {
		put_str(&l, "cuju-dirty: SIGUSR1: ");
		put_str(&l, rate_file);
		put_str(&l, " does not hold a whole number of pages/s; rate unchanged");
		emit(2, &l);
		return;
	}
	new_rate = v;
	rate_changes++;
	put_str(&l, "cuju-dirty: rate ");
	put_u64(&l, v);
	put_str(&l, " pages/s");
	emit(1, &l);
}

static void watch_rate_file(const char *path)
{
	rate_file = path;
	struct kernel_sigaction sa = {.handler = on_sigusr1, .flags = SA_RESTORER | SA_RESTART, .restorer = cuju_sigreturn, .mask = 0};
	if (syscall6(SYS_rt_sigaction, SIGUSR1, (s64)&sa, 0, 8, 0, 0) < 0)
		usage("cannot install the SIGUSR1 handler");
}

static s64 now_ns(void)
{
	struct timespec_k ts;
	syscall6(SYS_clock_gettime, CLOCK_MONOTONIC, (s64)&ts, 0, 0, 0, 0);
	return ts.tv_sec * 1000000000L + ts.tv_nsec;
}

/*
 * TSC ticks per second. Each clock_gettime is bracketed by two rdtsc reads and paired
 * with their midpoint: under emulation a syscall takes long enough (up to ~1 ms) to
 * matter against a 250 ms window.
 */
static u64 calibrate_tsc_hz(void)
{
	u64 a0 = rdtsc();
	s64 t0 = now_ns();
	u64 a1 = rdtsc();
	struct timespec_k sleep = {.tv_sec = 0, .tv_nsec = CALIBRATION_NS};
	syscall6(SYS_nanosleep, (s64)&sleep, 0, 0, 0, 0, 0);
	u64 b0 = rdtsc();
	s64 t1 = now_ns();
	u64 b1 = rdtsc();
	u64 ticks = (b0 / 2 + b1 / 2) - (a0 / 2 + a1 / 2);
	s64 ns = t1 - t0;
	if (ns <= 0 || ticks == 0)
		usage("cannot calibrate the TSC (clock_gettime did not advance)");
	return muldiv(ticks, 1000000000UL, (u64)ns);
}

/* ---- the workload ---- */

/*
 * Where the next write goes. Copied into locals of the hot loop: stores through the
 * u64 pointer could alias u64 fields in memory, which would force the compiler to
 * reload them after every store.
 */
struct cursor {
	volatile u64 *mem;
	u64 pages;
	u64 page;  /* round-robin position */
	u64 round; /* completed passes over all pages: moves the word offset */
	u64 seq;   /* the value written next; also counts writes */
};

static inline __attribute__((always_inline)) void write_one(struct cursor *c)
{
	/* The word offset moves by one each round, so every visit stores to a new place too. */
	c->mem[c->page * WORDS_PER_PAGE + c->round % WORDS_PER_PAGE] = ++c->seq;
	if (++c->page == c->pages) {
		c->page = 0;
		c->round++;
	}
}

static void report(u64 writes, u64 ticks, u64 tsc_hz)
{
	struct line l = {.len = 0};
	u64 centi_secs = muldiv(ticks, 100, tsc_hz);
	put_str(&l, "cuju-dirty: ");
	put_u64(&l, writes);
	put_str(&l, " pages written in ");
	put_centi(&l, centi_secs);
	put_str(&l, " s (");
	put_u64(&l, centi_secs ? writes * 100 / centi_secs : 0);
	put_str(&l, " pages/s)");
	emit(1, &l);
}

static __attribute__((noreturn)) void run(struct cursor start_at, u64 rate, u64 report_secs, u64 tsc_hz)
{
	struct cursor c = start_at;
	struct cursor *s = &c;
	u64 start = rdtsc();
	u64 report_every = report_secs * tsc_hz;
	u64 next_report = report_secs ? start + report_every : ~0UL;
	u64 last_report = start, last_seq = s->seq;
	u64 done = 0;      /* writes made in this paced timeline */
	u64 base = start;  /* the timeline's origin, moved forward when lag is dropped */
	u64 max_lag = rate / MAX_LAG_SECS_DIVISOR + BATCH;
	u64 changes_seen = rate_changes;

	for (;;) {
		u64 now = rdtsc();
		if (rate_changes != changes_seen) {
			/* SIGUSR1 set a new rate: a new paced timeline from now. */
			changes_seen = rate_changes;
			rate = new_rate;
			base = now;
			done = 0;
			max_lag = rate / MAX_LAG_SECS_DIVISOR + BATCH;
		}
		if (now >= next_report) {
			report(s->seq - last_seq, now - last_report, tsc_hz);
			last_report = now;
			last_seq = s->seq;
			next_report = now + report_every;
		}
		if (rate == 0) {
			for (int i = 0; i < 4096; i++)
				write_one(s);
			continue;
		}
		u64 due = muldiv(now - base, rate, tsc_hz);
		if (due <= done) {
			cpu_relax();
			continue;
		}
		if (due - done > max_lag) {
			/* Did not run for a while: forget the missed writes instead of bursting. */
			done = due - max_lag;
		}
		u64 n = due - done < BATCH ? due - done : BATCH;
		for (u64 i = 0; i < n; i++)
			write_one(s);
		done += n;
		/* Keep the products above small: rebase once a second's worth is done. */
		if (done >= rate) {
			base += tsc_hz;
			done -= rate;
		}
	}
}

static __attribute__((noreturn, used)) void cuju_main(s64 argc, char **argv)
{
	if (argc < 3 || argc > 5)
		usage("wrong number of arguments");
	u64 mib = parse_u64(argv[1], "MIB must be a whole number of MiB");
	u64 rate = parse_u64(argv[2], "PAGES_PER_SEC must be a whole number (0 = as fast as possible)");
	u64 report_secs = argc >= 4 ? parse_u64(argv[3], "REPORT_SECS must be a whole number of seconds") : 0;
	if (argc == 5)
		watch_rate_file(argv[4]);
	if (mib == 0 || mib > (1UL << 20))
		usage("MIB must be between 1 and 1048576");

	u64 bytes = mib << 20;
	/* MAP_POPULATE: one syscall faults in every page, instead of one emulated #PF each. */
	s64 addr = syscall6(SYS_mmap, 0, (s64)bytes, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (addr < 0 && addr > -4096)
		usage("cannot allocate that much memory (mmap failed): choose a smaller MIB");

	struct cursor s = {.mem = (volatile u64 *)addr, .pages = bytes / PAGE_SIZE, .page = 0, .round = 0, .seq = 0};
	/* Touch everything once: every page holds data (not a zero page) from now on. */
	for (u64 p = 0; p < s.pages; p++)
		write_one(&s);

	u64 tsc_hz = calibrate_tsc_hz();
	struct line l = {.len = 0};
	put_str(&l, "cuju-dirty: ready (");
	put_u64(&l, mib);
	put_str(&l, " MiB, ");
	put_u64(&l, s.pages);
	put_str(&l, " pages, ");
	if (rate)
		put_u64(&l, rate);
	else
		put_str(&l, "max");
	put_str(&l, " pages/s, tsc ");
	put_u64(&l, tsc_hz / 1000000);
	put_str(&l, " MHz)");
	emit(1, &l);
	run(s, rate, report_secs, tsc_hz);
}

/* The kernel enters with rsp -> argc, argv[0], ...; the ABI wants rsp 16-aligned before a call. */
__asm__(".globl _start\n"
	"_start:\n"
	"	xor %ebp, %ebp\n"
	"	mov (%rsp), %rdi\n"
	"	lea 8(%rsp), %rsi\n"
	"	and $-16, %rsp\n"
	"	call cuju_main\n"
	"	hlt\n");
