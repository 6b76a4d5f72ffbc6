/*
 * A stand-in for the micro-VM host, for tests only: it links the guest runtime built with -DAK_HARNESS (the `out`
 * instruction becomes a call to ak_harness_out) into a plain Linux process with no C library, and serves the
 * guest's exits the way the VM host does, minus the VM. It lets the guest runtime (dispatch, traps, buffered
 * output, invoke conversions, memory growth) be tested on any Linux machine.
 *
 * usage: harness MEM_MIB start
 *        harness MEM_MIB invoke INDEX [RAW_ARG...]      (raw argument bits, decimal)
 * Guest fd 1/2 output goes to stdout/stderr; the last line on stderr, after a newline of its own, reports the end
 * of the call:
 *   #ak done status=S results=R1,R2 hostcalls=N flushes=F mem_size=M records=FD:LEN,... last=FUNC:ARG,...
 *   #ak trap code=C hostcalls=N flushes=F mem_size=M records=FD:LEN,... last=FUNC:ARG,...
 *   #ak abort MESSAGE
 *   #ak ready-trap code=C                        (trap before AK_PORT_READY)
 * WASI calls other than output, clocks, random and empty args/environ answer ENOSYS.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ak_guest.h"

struct ak_msg *ak_harness_msg;

/* ---- raw Linux system calls ---- */

static long sys6(long n, long a, long b, long c, long d, long e, long f) {
  long ret;
  register long r10 __asm__("r10") = d;
  register long r8 __asm__("r8") = e;
  register long r9 __asm__("r9") = f;
  __asm__ volatile("syscall" : "=a"(ret) : "a"(n), "D"(a), "S"(b), "d"(c), "r"(r10), "r"(r8), "r"(r9)
                   : "rcx", "r11", "memory");
  return ret;
}
#define SYS_write 1
#define SYS_mmap 9
#define SYS_clock_gettime 228
#define SYS_exit_group 231
#define SYS_getrandom 318

static void write_all(int fd, const void *p, size_t n) {
  const char *c = p;
  while (n > 0) {
    long w = sys6(SYS_write, fd, (long)c, (long)n, 0, 0, 0);
    if (w <= 0) return;
    c += w;
    n -= (size_t)w;
  }
}
static AK_NORETURN void exit_now(int code) {
  sys6(SYS_exit_group, code, 0, 0, 0, 0, 0);
  __builtin_unreachable();
}

/* ---- tiny formatted report on stderr ---- */

static char line[AK_MSG_SIZE + 256] = "\n";   /* the report starts on a line of its own */
static size_t line_len = 1;
static void put(const char *s) {
  size_t n = strlen(s);
  memcpy(line + line_len, s, n);
  line_len += n;
}
static void put_u64(uint64_t v) {
  char buf[24];
  int i = 23;
  buf[i] = 0;
  do buf[--i] = (char)('0' + v % 10); while ((v /= 10) != 0);
  put(buf + i);
}
static void put_i64(int64_t v) {
  if (v < 0) {
    put("-");
    put_u64((uint64_t)0 - (uint64_t)v);
  } else {
    put_u64((uint64_t)v);
  }
}
static AK_NORETURN void report_and_exit(void) {
  put("\n");
  write_all(2, line, line_len);
  exit_now(0);
}

static uint64_t parse_u64(const char *s) {
  uint64_t v = 0;
  while (*s >= '0' && *s <= '9') v = v * 10 + (uint64_t)(*s++ - '0');
  return v;
}

/* ---- the host side of the protocol ---- */

static int ready;
static uint32_t op, invoke_index, invoke_nargs;
static uint64_t invoke_args[AK_MAX_ARGS];
static uint64_t hostcalls, flushes;
/* the last host call other than a flush: func and raw arguments (the report's last= field) */
static uint32_t last_func, last_nargs;
static uint64_t last_args[AK_MAX_ARGS];

/* fd:len of every output record received, in order (the report's records= field) */
static char records[4096];
static size_t records_len;

static void note_record(uint32_t fd, uint32_t len) {
  char buf[32];
  size_t n = 0;
  char digits[12];
  int i;
  if (records_len) buf[n++] = ',';
  buf[n++] = (char)('0' + fd % 10);
  buf[n++] = ':';
  i = 0;
  do digits[i++] = (char)('0' + len % 10); while ((len /= 10) != 0);
  while (i) buf[n++] = digits[--i];
  if (records_len + n < sizeof records) {
    memcpy(records + records_len, buf, n);
    records_len += n;
  }
}

static void serve_flush(struct ak_msg *m) {
  flushes++;
  uint32_t off = 0;
  while (off + sizeof(struct ak_out_record) <= m->data_len) {
    struct ak_out_record rec;
    memcpy(&rec, m->data + off, sizeof rec);
    off += sizeof rec;
    if (rec.len > m->data_len - off) break;
    write_all(rec.fd == 2 ? 2 : 1, m->data + off, rec.len);
    note_record(rec.fd, rec.len);
    off += rec.len;
  }
}

static uint8_t *linear(struct ak_msg *m, uint64_t offset, uint64_t len) {
  if (offset + len > m->mem_size) return NULL;
  return (uint8_t *)(uintptr_t)m->mem_base + offset;
}

static int32_t serve_wasi(struct ak_msg *m, uint32_t index) {
  uint64_t *a = m->args;
  switch (index) {
    case AK_WASI_args_sizes_get:
    case AK_WASI_environ_sizes_get: {
      uint8_t *p = linear(m, a[0], 4), *q = linear(m, a[1], 4);
      if (!p || !q) return 21;
      memset(p, 0, 4);
      memset(q, 0, 4);
      return 0;
    }
    case AK_WASI_args_get:
    case AK_WASI_environ_get:
      return 0;
    case AK_WASI_clock_time_get: {
      struct { long sec, nsec; } ts;
      uint8_t *p = linear(m, a[2], 8);
      if (!p) return 21;
      if (sys6(SYS_clock_gettime, (long)a[0], (long)&ts, 0, 0, 0, 0) != 0) return 28;
      uint64_t ns = (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
      memcpy(p, &ns, 8);
      return 0;
    }
    case AK_WASI_random_get: {
      uint8_t *p = linear(m, a[0], a[1]);
      if (!p) return 21;
      return sys6(SYS_getrandom, (long)p, (long)a[1], 0, 0, 0, 0) == (long)a[1] ? 0 : 29;
    }
    case AK_WASI_fd_close:
      return a[0] <= 2 ? 0 : 8;
    case AK_WASI_fd_write: {
      if (a[0] != 1 && a[0] != 2) return 8;
      uint8_t *iovs = linear(m, a[1], a[2] * 8), *nw = linear(m, a[3], 4);
      if (!iovs || !nw) return 21;
      uint32_t total = 0;
      for (uint64_t i = 0; i < a[2]; i++) {
        uint32_t buf, len;
        memcpy(&buf, iovs + i * 8, 4);
        memcpy(&len, iovs + i * 8 + 4, 4);
        uint8_t *p = linear(m, buf, len);
        if (!p) return 21;
        write_all((int)a[0], p, len);
        total += len;
      }
      memcpy(nw, &total, 4);
      return 0;
    }
    default:
      return 52;
  }
}

void ak_harness_out(uint16_t port) {
  struct ak_msg *m = ak_harness_msg;
  switch (port) {
    case AK_PORT_READY:
      ready = 1;
      memset(m, 0, sizeof *m);
      m->abi = AK_ABI_VERSION;
      m->op = op;
      m->func = invoke_index;
      m->nargs = invoke_nargs;
      for (uint32_t i = 0; i < invoke_nargs; i++) m->args[i] = invoke_args[i];
      ak_dispatch();
    case AK_PORT_HOSTCALL:
      hostcalls++;
      if (m->func == AK_HC_FLUSH) {
        serve_flush(m);
        m->status = 0;
        return;
      }
      last_func = m->func;
      last_nargs = m->nargs <= AK_MAX_ARGS ? m->nargs : AK_MAX_ARGS;
      memcpy(last_args, m->args, sizeof last_args);
      if (m->func >= AK_HC_WASI_BASE && m->func < AK_HC_WASI_BASE + AK_WASI_COUNT) {
        m->status = serve_wasi(m, m->func - AK_HC_WASI_BASE);
      } else {
        m->status = 52;
      }
      return;
    case AK_PORT_DONE:
      put("#ak done status=");
      put_i64(m->status);
      put(" results=");
      for (uint32_t i = 0; i < m->nresults && i < AK_MAX_RESULTS; i++) {
        if (i) put(",");
        put_u64(m->results[i]);
      }
      break;
    case AK_PORT_TRAP:
      put(ready ? "#ak trap code=" : "#ak ready-trap code=");
      put_i64(m->status);
      break;
    case AK_PORT_ABORT:
      put("#ak abort ");
      memcpy(line + line_len, m->data, m->data_len < 4096 ? m->data_len : 4096);
      line_len += m->data_len < 4096 ? m->data_len : 4096;
      report_and_exit();
    default:
      put("#ak abort unknown port");
      report_and_exit();
  }
  put(" hostcalls=");
  put_u64(hostcalls);
  put(" flushes=");
  put_u64(flushes);
  put(" mem_size=");
  put_u64(m->mem_size);
  put(" records=");
  memcpy(line + line_len, records, records_len);
  line_len += records_len;
  put(" last=");
  put_u64(last_func);
  put(":");
  for (uint32_t i = 0; i < last_nargs; i++) {
    if (i) put(",");
    put_u64(last_args[i]);
  }
  report_and_exit();
}

static void *map(uint64_t size) {
  long p = sys6(SYS_mmap, 0, (long)size, 3 /* RW */, 0x22 /* PRIVATE|ANONYMOUS */, -1, 0);
  if (p < 0 && p > -4096) {
    put("#ak abort harness: mmap failed");
    report_and_exit();
  }
  return (void *)p;
}

/* Runs the guest on its own 1 MiB stack, like the VM's AK_STACK_SIZE. */
static uint64_t mem_size;
static uint8_t *guest_stack;
static AK_NORETURN void run_guest(void) {
  uint8_t *region = map(mem_size);
  ak_guest_init((uintptr_t)region, (uintptr_t)region + mem_size, (uintptr_t)guest_stack + 64 * 1024);
}

AK_NORETURN void harness_main(uint64_t *sp) {
  int argc = (int)sp[0];
  char **argv = (char **)(sp + 1);
  if (argc < 3) {
    put("#ak abort usage: harness MEM_MIB start|invoke INDEX [ARG...]");
    report_and_exit();
  }
  mem_size = parse_u64(argv[1]) << 20;
  ak_harness_msg = map(AK_MSG_SIZE);
  if (strlen(argv[2]) == 5 && memcmp(argv[2], "start", 5) == 0) {
    op = AK_OP_START;
  } else {
    op = AK_OP_INVOKE;
    invoke_index = argc > 3 ? (uint32_t)parse_u64(argv[3]) : 0;
    for (int i = 4; i < argc && invoke_nargs < AK_MAX_ARGS; i++) invoke_args[invoke_nargs++] = parse_u64(argv[i]);
  }
  /* switch to a fresh 1 MiB stack */
  guest_stack = map(AK_STACK_SIZE);
  __asm__ volatile("mov %0, %%rsp\n\tcall *%1" : : "r"(guest_stack + AK_STACK_SIZE), "r"(run_guest) : "memory");
  __builtin_unreachable();
}

__asm__(".text\n.globl _start\n_start:\n\txor %ebp, %ebp\n\tmov %rsp, %rdi\n\tand $-16, %rsp\n\tcall harness_main\n\tud2\n");
