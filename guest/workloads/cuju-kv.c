/*
 * cuju-kv PORT FILE [DIRTY_KIB]
 *
 * The guest service of the fault-tolerance failure tests: a TCP server on PORT that
 * keeps state in memory (a counter) and on disk (an append-only log in FILE), one
 * connection at a time, one request per line, one answer line per request:
 *
 *   C       the counter + 1, answered as "C <counter>"
 *   W <n>   appends a 16-byte record holding n to FILE, fsync()s it, then answers
 *           "W <n> <records in FILE>"
 *   R       drops the guest's page cache, reads FILE back from the disk and answers "R <records> <last n> <first bad record or 0>",
 *           where a record i (1-based) is good when it holds n = i: the client writes
 *           1, 2, 3, ... so a lost, repeated or torn acknowledged write shows up here
 *   anything else: "E <what>"
 *
 * After every request it writes a word into each page of a DIRTY_KIB buffer (default
 * 512), so the epochs fault tolerance replicates carry guest pages, not only the
 * service's few bytes of state. FILE is opened on the first W or R (tests start this
 * service before the disk is mounted: it is part of a cached snapshot).
 *
 * Why it looks the way it does: no libc (raw syscalls, like cuju-dirty.c): the guest
 * kernel copies the initramfs in emulated code on kvm_pvm hosts, so size is boot time;
 * the buffer is faulted in once with MAP_POPULATE (page faults run in the emulated
 * guest kernel there); the answer is written only after fsync returned, so an answer
 * the client holds means the record was on the disk as far as the guest knows.
 */
typedef unsigned long u64;
typedef long s64;
typedef unsigned int u32;
typedef unsigned short u16;

#define SYS_read 0
#define SYS_write 1
#define SYS_open 2
#define SYS_close 3
#define SYS_lseek 8
#define SYS_mmap 9
#define SYS_socket 41
#define SYS_accept 43
#define SYS_bind 49
#define SYS_listen 50
#define SYS_setsockopt 54
#define SYS_fsync 74
#define SYS_exit_group 231
#define SYS_rt_sigaction 13
#define SIGPIPE 13
#define SIG_IGN 1

#define PROT_READ 1
#define PROT_WRITE 2
#define MAP_PRIVATE 0x02
#define MAP_ANONYMOUS 0x20
#define MAP_POPULATE 0x8000
#define O_RDONLY 0
#define O_WRONLY 1
#define O_CREAT 0100
#define O_APPEND 02000
#define SEEK_END 2
#define AF_INET 2
#define SOCK_STREAM 1
#define SOL_SOCKET 1
#define SO_REUSEADDR 2
#define EINTR 4

#define PAGE_SIZE 4096UL
#define RECORD_SIZE 16
#define RECORD_DIGITS 14 /* 'W', 14 digits, '\n' */

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

static __attribute__((noreturn)) void exit_group(int code)
{
	for (;;)
		syscall6(SYS_exit_group, code, 0, 0, 0, 0, 0);
}

/* ---- output lines ---- */

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

/* Writes all of buf (a socket may take less than asked); 0 on success. */
static int write_all(int fd, const char *buf, u64 len)
{
	while (len) {
		s64 n = syscall6(SYS_write, fd, (s64)buf, (s64)len, 0, 0, 0);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (u64)n;
	}
	return 0;
}

static int emit(int fd, struct line *l)
{
	put_str(l, "\n");
	int r = write_all(fd, l->buf, l->len);
	l->len = 0;
	return r;
}

static __attribute__((noreturn)) void usage(const char *why)
{
	struct line l = {.len = 0};
	put_str(&l, "cuju-kv: ");
	put_str(&l, why);
	emit(2, &l);
	put_str(&l, "usage: cuju-kv PORT FILE [DIRTY_KIB]  (requests: C | W <n> | R, one per line)");
	emit(2, &l);
	exit_group(2);
}

/* Decimal digits in [s, end) into *out; 0 when there are none, others, or too many. */
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

static u64 parse_arg(const char *s, const char *what)
{
	u64 v;
	if (!parse_decimal(s, 0, &v))
		usage(what);
	return v;
}

/* ---- state ---- */

static u64 counter;
static const char *log_path;
static s64 log_fd = -1;
static volatile u64 *dirty_mem;
static u64 dirty_pages;
static u64 dirty_seq;

/* One new value in every page of the buffer: each request dirties dirty_pages pages. */
static void dirty_memory(void)
{
	dirty_seq++;
	for (u64 p = 0; p < dirty_pages; p++)
		dirty_mem[p * (PAGE_SIZE / 8) + dirty_seq % (PAGE_SIZE / 8)] = dirty_seq;
}

/* A record: 'W', n in 14 zero-padded digits, '\n' (16 bytes: records never straddle a 512-byte sector). */
static void format_record(char *rec, u64 n)
{
	rec[0] = 'W';
	for (int i = RECORD_DIGITS; i >= 1; i--) {
		rec[i] = (char)('0' + n % 10);
		n /= 10;
	}
	rec[RECORD_SIZE - 1] = '\n';
}

static void answer_error(int fd, const char *what, s64 err)
{
	struct line l = {.len = 0};
	put_str(&l, "E ");
	put_str(&l, what);
	if (err) {
		put_str(&l, " errno ");
		put_u64(&l, (u64)-err);
	}
	emit(fd, &l);
}

static void do_write(int fd, u64 n)
{
	char rec[RECORD_SIZE];
	if (log_fd < 0) {
		log_fd = syscall6(SYS_open, (s64)log_path, O_WRONLY | O_CREAT | O_APPEND, 0644, 0, 0, 0);
		if (log_fd < 0) {
			answer_error(fd, "open", log_fd);
			log_fd = -1;
			return;
		}
	}
	format_record(rec, n);
	if (write_all((int)log_fd, rec, RECORD_SIZE) != 0) {
		answer_error(fd, "write", 0);
		return;
	}
	s64 r = syscall6(SYS_fsync, log_fd, 0, 0, 0, 0, 0);
	if (r < 0) {
		answer_error(fd, "fsync", r);
		return;
	}
	s64 size = syscall6(SYS_lseek, log_fd, 0, SEEK_END, 0, 0, 0);
	struct line l = {.len = 0};
	put_str(&l, "W ");
	put_u64(&l, n);
	put_str(&l, " ");
	put_u64(&l, size < 0 ? 0 : (u64)size / RECORD_SIZE);
	emit(fd, &l);
}

/* Reads FILE back: how many records, the last one's n, and the first record that is not i (0: none). */
static void do_read(int fd)
{
	static char buf[4096]; /* a multiple of RECORD_SIZE: records never straddle two reads */
	u64 records = 0, last = 0, first_bad = 0;
	/*
	 * Read the disk, not the page cache: the cache came along in replicated RAM, so only
	 * dropping it (clean pages: every record was fsync'ed) shows what the disk holds.
	 */
	s64 drop = syscall6(SYS_open, (s64)"/proc/sys/vm/drop_caches", O_WRONLY, 0, 0, 0, 0);
	if (drop >= 0) {
		write_all((int)drop, "3\n", 2);
		syscall6(SYS_close, drop, 0, 0, 0, 0, 0);
	}
	s64 in = syscall6(SYS_open, (s64)log_path, O_RDONLY, 0, 0, 0, 0);
	if (in < 0) {
		/* No file yet: nothing was written. */
		struct line l = {.len = 0};
		put_str(&l, "R 0 0 0");
		emit(fd, &l);
		return;
	}
	u64 have = 0;
	for (;;) {
		s64 n = syscall6(SYS_read, in, (s64)(buf + have), (s64)(sizeof(buf) - have), 0, 0, 0);
		if (n == -EINTR)
			continue;
		if (n < 0) {
			syscall6(SYS_close, in, 0, 0, 0, 0, 0);
			answer_error(fd, "read", n);
			return;
		}
		have += (u64)n;
		u64 whole = have / RECORD_SIZE * RECORD_SIZE;
		for (u64 at = 0; at < whole; at += RECORD_SIZE) {
			u64 v;
			const char *rec = buf + at;
			records++;
			int good = rec[0] == 'W' && rec[RECORD_SIZE - 1] == '\n' && parse_decimal(rec + 1, rec + 1 + RECORD_DIGITS, &v);
			if (good)
				last = v;
			if ((!good || v != records) && !first_bad)
				first_bad = records;
		}
		for (u64 i = whole; i < have; i++)
			buf[i - whole] = buf[i];
		have -= whole;
		if (n == 0)
			break;
	}
	syscall6(SYS_close, in, 0, 0, 0, 0, 0);
	if (have && !first_bad)
		first_bad = records + 1; /* a torn record at the end */
	struct line l = {.len = 0};
	put_str(&l, "R ");
	put_u64(&l, records);
	put_str(&l, " ");
	put_u64(&l, last);
	put_str(&l, " ");
	put_u64(&l, first_bad);
	emit(fd, &l);
}

static void handle(int fd, const char *req, const char *end)
{
	u64 n;
	if (end - req == 1 && req[0] == 'C') {
		struct line l = {.len = 0};
		put_str(&l, "C ");
		put_u64(&l, ++counter);
		emit(fd, &l);
	} else if (end - req > 2 && req[0] == 'W' && req[1] == ' ' && parse_decimal(req + 2, end, &n)) {
		do_write(fd, n);
	} else if (end - req == 1 && req[0] == 'R') {
		do_read(fd);
	} else {
		answer_error(fd, "unknown request", 0);
	}
	dirty_memory();
}

/* Serves one connection until the peer closes it. */
static void serve(int fd)
{
	static char buf[1024];
	u64 have = 0;
	for (;;) {
		s64 n = syscall6(SYS_read, fd, (s64)(buf + have), (s64)(sizeof(buf) - have), 0, 0, 0);
		if (n == -EINTR)
			continue;
		if (n <= 0)
			return;
		have += (u64)n;
		u64 start = 0;
		for (u64 i = 0; i < have; i++) {
			if (buf[i] != '\n')
				continue;
			u64 len = i - start;
			if (len && buf[start + len - 1] == '\r')
				len--;
			handle(fd, buf + start, buf + start + len);
			start = i + 1;
		}
		for (u64 i = start; i < have; i++)
			buf[i - start] = buf[i];
		have -= start;
		if (have == sizeof(buf)) /* a line longer than any request: drop it */
			have = 0;
	}
}

struct sockaddr_in_k {
	u16 family;
	u16 port; /* network byte order */
	u32 addr;
	char zero[8];
};

static __attribute__((noreturn, used)) void cuju_main(s64 argc, char **argv)
{
	if (argc < 3 || argc > 4)
		usage("wrong number of arguments");
	u64 port = parse_arg(argv[1], "PORT must be a number");
	if (port == 0 || port > 65535)
		usage("PORT must be between 1 and 65535");
	log_path = argv[2];
	u64 kib = argc == 4 ? parse_arg(argv[3], "DIRTY_KIB must be a whole number of KiB") : 512;
	dirty_pages = kib * 1024 / PAGE_SIZE;
	if (dirty_pages) {
		s64 addr = syscall6(SYS_mmap, 0, (s64)(dirty_pages * PAGE_SIZE), PROT_READ | PROT_WRITE,
				    MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
		if (addr < 0 && addr > -4096)
			usage("cannot allocate DIRTY_KIB (mmap failed): choose less");
		dirty_mem = (volatile u64 *)addr;
		dirty_memory();
	}

	/* A client that goes away mid-answer must not kill the service (SIGPIPE's default). */
	u64 ignore[4] = {SIG_IGN, 0, 0, 0};
	syscall6(SYS_rt_sigaction, SIGPIPE, (s64)ignore, 0, 8, 0, 0);

	s64 s = syscall6(SYS_socket, AF_INET, SOCK_STREAM, 0, 0, 0, 0);
	if (s < 0)
		usage("socket() failed");
	int one = 1;
	syscall6(SYS_setsockopt, s, SOL_SOCKET, SO_REUSEADDR, (s64)&one, sizeof(one), 0);
	struct sockaddr_in_k sa = {.family = AF_INET, .port = (u16)(((port & 0xff) << 8) | (port >> 8)), .addr = 0, .zero = {0}};
	if (syscall6(SYS_bind, s, (s64)&sa, sizeof(sa), 0, 0, 0) < 0)
		usage("cannot bind PORT (in use?)");
	if (syscall6(SYS_listen, s, 4, 0, 0, 0, 0) < 0)
		usage("listen() failed");
	struct line l = {.len = 0};
	put_str(&l, "cuju-kv: listening on port ");
	put_u64(&l, port);
	put_str(&l, ", log ");
	put_str(&l, log_path);
	put_str(&l, ", ");
	put_u64(&l, dirty_pages);
	put_str(&l, " pages dirtied per request");
	emit(1, &l);
	for (;;) {
		s64 c = syscall6(SYS_accept, s, 0, 0, 0, 0, 0);
		if (c < 0)
			continue;
		serve((int)c);
		syscall6(SYS_close, c, 0, 0, 0, 0, 0);
	}
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
