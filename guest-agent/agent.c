/*
 * agentkernel microVM guest agent: PID 1 of every microVM guest (static, no libc beyond what -static links).
 *
 * Boot: mount /proc, /sys, /dev; load the kernel modules listed in /modules/order (virtio transport, block,
 * console, ext4...) in that order; mount the sandbox's own copy-on-write disk (/dev/vda) and make it the root;
 * bring up loopback (and eth0 when the VMM gave one); then serve the protocol on the virtio-serial port named
 * "ak.agent" or, where there is none (Firecracker), on vsock port 1024.
 *
 * Protocol (framing shared with src/backends/microvm/protocol.ts): every message is
 *   u32 LE length (of what follows) | u8 type | u32 LE request id | payload
 * Requests: PING, EXEC, STDIN (empty = EOF), SIGNAL, READ, WRITE, LIST, REMOVE, SHUTDOWN.
 * Replies: PONG, STDOUT, STDERR, EXIT, OK, ERR. Several EXECs may run at once, told apart by their ids.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define AGENT_VERSION "agentkernel-guest-agent/1"
#define VSOCK_PORT 1024
#define MAX_FRAME (65u * 1024 * 1024)
#define MAX_EXECS 64

enum {
  T_PING = 0x01, T_EXEC = 0x02, T_STDIN = 0x03, T_SIGNAL = 0x04, T_READ = 0x05, T_WRITE = 0x06, T_LIST = 0x07,
  T_REMOVE = 0x08, T_SHUTDOWN = 0x09,
  T_PONG = 0x81, T_STDOUT = 0x82, T_STDERR = 0x83, T_EXIT = 0x84, T_OK = 0x85, T_ERR = 0x86,
};

struct exec_slot {
  int used;
  uint32_t id;
  pid_t pid;
  int in_fd, out_fd, err_fd; /* -1 once closed */
  int exited, status;
  char *in_buf; /* stdin waiting for the child to read it */
  size_t in_len, in_off;
  int in_eof;
};

static struct exec_slot execs[MAX_EXECS];
static int chan = -1;         /* the host connection */
static int chan_is_vsock = 0; /* vsock: accept a new connection when the host leaves */
static int listen_fd = -1;
static const char *port_path = NULL;
static int sig_fd = -1;
static int ephemeral = 0;     /* ak.ephemeral=1: a pooled VM powers off when its host goes away */
static int seen_host = 0;
/* virtio-serial with no host connected polls as HUP at once: wait for the SIGIO of the next connection instead */
static int host_absent = 0;       /* SIGCHLD, so an exit is reported as soon as it happens */

static void logmsg(const char *m) {
  int fd = open("/dev/kmsg", O_WRONLY | O_CLOEXEC);
  if (fd >= 0) { dprintf(fd, "<3>ak-agent: %s\n", m); close(fd); }
}

static void put32(unsigned char *p, uint32_t v) { p[0] = v; p[1] = v >> 8; p[2] = v >> 16; p[3] = v >> 24; }
static uint32_t get32(const unsigned char *p) { return p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24; }

static int write_all(int fd, const void *buf, size_t n) {
  const char *p = buf;
  int stalls = 0;
  while (n > 0) {
    ssize_t w = write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      /* a full queue drains as the host reads; a host that stops reading for 10 s is treated as gone */
      if (errno == EAGAIN && stalls++ < 100) { struct pollfd pf = { fd, POLLOUT, 0 }; poll(&pf, 1, 100); continue; }
      return -1;
    }
    p += w; n -= (size_t)w;
  }
  return 0;
}

/* A lost host connection drops the message: its caller is gone and nobody would read it. */
static void send_msg(uint8_t type, uint32_t id, const void *a, size_t alen, const void *b, size_t blen) {
  unsigned char h[9];
  put32(h, (uint32_t)(5 + alen + blen)); h[4] = type; put32(h + 5, id);
  if (chan < 0) return;
  if (write_all(chan, h, 9) || (alen && write_all(chan, a, alen)) || (blen && write_all(chan, b, blen))) return;
}

static void send_err(uint32_t id, int err, const char *what) {
  char msg[512];
  unsigned char code[4];
  int n = snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  put32(code, (uint32_t)err);
  send_msg(T_ERR, id, code, 4, msg, n < 0 ? 0 : (size_t)n);
}

/* ---- boot ------------------------------------------------------------------------------------------------------ */

static void load_modules(void) {
  FILE *f = fopen("/modules/order", "r");
  char line[512];
  if (!f) return;
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = 0;
    if (!line[0]) continue;
    char path[600];
    snprintf(path, sizeof path, "/modules/%s", line);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (syscall(SYS_finit_module, fd, "", 0) != 0 && errno != EEXIST) {
      char m[700]; snprintf(m, sizeof m, "module %s: %s", line, strerror(errno)); logmsg(m);
    }
    close(fd);
  }
  fclose(f);
}

static void mount_basics(void) {
  mkdir("/proc", 0555); mkdir("/sys", 0555); mkdir("/dev", 0755);
  mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount("sysfs", "/sys", "sysfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
  mount("devtmpfs", "/dev", "devtmpfs", MS_NOSUID, "mode=0755");
}

/* Wait for a device node the modules just created (probing is asynchronous). */
static int wait_for(const char *path, int ms) {
  for (int i = 0; i < ms / 5; i++) {
    if (access(path, F_OK) == 0) return 0;
    struct timespec t = { 0, 5 * 1000 * 1000 }; nanosleep(&t, NULL);
  }
  return access(path, F_OK);
}

/* The sandbox disk becomes / (MS_MOVE onto the initramfs root, as switch_root does); the agent keeps running. */
static void switch_to_disk(void) {
  if (wait_for("/dev/vda", 3000) != 0) { logmsg("no /dev/vda: staying on the initramfs"); return; }
  mkdir("/newroot", 0755);
  if (mount("/dev/vda", "/newroot", "ext4", 0, NULL) != 0) { logmsg("mounting /dev/vda failed"); return; }
  mkdir("/newroot/proc", 0555); mkdir("/newroot/sys", 0555); mkdir("/newroot/dev", 0755);
  mount("/proc", "/newroot/proc", NULL, MS_MOVE, NULL);
  mount("/sys", "/newroot/sys", NULL, MS_MOVE, NULL);
  mount("/dev", "/newroot/dev", NULL, MS_MOVE, NULL);
  if (chdir("/newroot") || mount(".", "/", NULL, MS_MOVE, NULL) || chroot(".") || chdir("/")) logmsg("switching root failed");
  mkdir("/tmp", 01777);
  mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  mkdir("/dev/pts", 0755);
  mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC, NULL);
}

static void run_quiet(const char *script) {
  pid_t p = fork();
  if (p == 0) {
    execl("/bin/sh", "sh", "-c", script, (char *)NULL);
    _exit(127);
  }
  if (p > 0) waitpid(p, NULL, 0);
}

/* QEMU's user-mode network (slirp) always hands out the same addresses: no DHCP client needed. */
static void setup_network(void) {
  if (access("/sys/class/net/eth0", F_OK) == 0) {
    run_quiet("ip link set lo up; ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && ip route add default via 10.0.2.2; "
              "echo nameserver 10.0.2.3 > /etc/resolv.conf");
  } else {
    run_quiet("ip link set lo up");
  }
}

/* The virtio-serial port whose name is ak.agent, as /dev/vportNpM (there is no udev to make the by-name link). */
static const char *find_port(void) {
  static char path[300];
  for (int tries = 0; tries < 600; tries++) {
    DIR *d = opendir("/sys/class/virtio-ports");
    struct dirent *e;
    while (d && (e = readdir(d))) {
      if (e->d_name[0] == '.') continue;
      char f[300], name[64] = { 0 };
      snprintf(f, sizeof f, "/sys/class/virtio-ports/%s/name", e->d_name);
      int fd = open(f, O_RDONLY | O_CLOEXEC);
      if (fd < 0) continue;
      ssize_t n = read(fd, name, sizeof name - 1);
      close(fd);
      if (n > 0 && strncmp(name, "ak.agent", 8) == 0) {
        snprintf(path, sizeof path, "/dev/%s", e->d_name);
        closedir(d);
        if (wait_for(path, 2000) == 0) return path;
        return NULL;
      }
    }
    if (d) closedir(d);
    /* no port at all after the modules loaded: a VMM without virtio-serial (vsock instead) */
    if (tries > 40 && access("/sys/class/virtio-ports", F_OK) != 0) return NULL;
    struct timespec t = { 0, 5 * 1000 * 1000 }; nanosleep(&t, NULL);
  }
  return NULL;
}

static int open_vsock_listener(void) {
  int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
  struct sockaddr_vm a = { 0 };
  a.svm_family = AF_VSOCK; a.svm_cid = VMADDR_CID_ANY; a.svm_port = VSOCK_PORT;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || listen(fd, 4)) return -1;
  return fd;
}

/* ---- exec ------------------------------------------------------------------------------------------------------ */

static struct exec_slot *find_exec(uint32_t id) {
  for (int i = 0; i < MAX_EXECS; i++) if (execs[i].used && execs[i].id == id) return &execs[i];
  return NULL;
}

static void close_fd(int *fd) { if (*fd >= 0) { close(*fd); *fd = -1; } }

/* EXEC payload: u32 uid | u32 gid | cwd NUL | u32 argc | argv NUL... | u32 envc | env NUL... */
static int parse_strings(const unsigned char **p, const unsigned char *end, uint32_t n, char **out) {
  for (uint32_t i = 0; i < n; i++) {
    const unsigned char *z = memchr(*p, 0, (size_t)(end - *p));
    if (!z) return -1;
    out[i] = (char *)*p; *p = z + 1;
  }
  out[n] = NULL;
  return 0;
}

static void start_exec(uint32_t id, unsigned char *pl, size_t len) {
  const unsigned char *p = pl, *end = pl + len;
  if (find_exec(id)) { send_err(id, EEXIST, "exec id in use"); return; }
  struct exec_slot *s = NULL;
  for (int i = 0; i < MAX_EXECS; i++) if (!execs[i].used) { s = &execs[i]; break; }
  if (!s) { send_err(id, EAGAIN, "too many commands running"); return; }
  if (len < 12) { send_err(id, EINVAL, "bad exec request"); return; }
  uint32_t uid = get32(p), gid = get32(p + 4); p += 8;
  const unsigned char *z = memchr(p, 0, (size_t)(end - p));
  if (!z) { send_err(id, EINVAL, "bad exec request"); return; }
  const char *cwd = (const char *)p; p = z + 1;
  if (end - p < 4) { send_err(id, EINVAL, "bad exec request"); return; }
  uint32_t argc = get32(p); p += 4;
  if (argc == 0 || argc > 100000) { send_err(id, EINVAL, "bad argv"); return; }
  char **argv = calloc(argc + 1, sizeof *argv);
  if (!argv || parse_strings(&p, end, argc, argv) || end - p < 4) { free(argv); send_err(id, EINVAL, "bad argv"); return; }
  uint32_t envc = get32(p); p += 4;
  char **envp = envc <= 100000 ? calloc(envc + 1, sizeof *envp) : NULL;
  if (!envp || parse_strings(&p, end, envc, envp)) { free(argv); free(envp); send_err(id, EINVAL, "bad env"); return; }

  int in[2], out[2], err[2];
  if (pipe2(in, O_CLOEXEC) || pipe2(out, O_CLOEXEC) || pipe2(err, O_CLOEXEC)) {
    send_err(id, errno, "pipe"); free(argv); free(envp); return;
  }
  pid_t pid = fork();
  if (pid == 0) {
    setsid();
    dup2(in[0], 0); dup2(out[1], 1); dup2(err[1], 2);
    sigset_t none; sigemptyset(&none); sigprocmask(SIG_SETMASK, &none, NULL);
    signal(SIGPIPE, SIG_DFL);
    if (cwd[0] && chdir(cwd) != 0) { dprintf(2, "agentkernel: cannot change to %s: %s\n", cwd, strerror(errno)); _exit(126); }
    if (gid && setgid(gid) != 0) _exit(126);
    if (uid && setuid(uid) != 0) _exit(126);
    execvpe(argv[0], argv, envp);
    int e = errno;
    dprintf(2, "agentkernel: %s: %s\n", argv[0], strerror(e));
    _exit(e == ENOENT ? 127 : 126);
  }
  close(in[0]); close(out[1]); close(err[1]);
  free(argv); free(envp);
  if (pid < 0) { close(in[1]); close(out[0]); close(err[0]); send_err(id, errno, "fork"); return; }
  fcntl(in[1], F_SETFL, O_NONBLOCK);
  memset(s, 0, sizeof *s);
  s->used = 1; s->id = id; s->pid = pid; s->in_fd = in[1]; s->out_fd = out[0]; s->err_fd = err[0];
}

static void feed_stdin(struct exec_slot *s) {
  while (s->in_fd >= 0 && s->in_off < s->in_len) {
    ssize_t w = write(s->in_fd, s->in_buf + s->in_off, s->in_len - s->in_off);
    if (w < 0) {
      if (errno == EAGAIN || errno == EINTR) return;
      s->in_off = s->in_len; /* the command closed its stdin: drop the rest */
      break;
    }
    s->in_off += (size_t)w;
  }
  if (s->in_off >= s->in_len) { free(s->in_buf); s->in_buf = NULL; s->in_len = s->in_off = 0; }
  if (s->in_eof && !s->in_buf) close_fd(&s->in_fd);
}

static void add_stdin(uint32_t id, const unsigned char *d, size_t n) {
  struct exec_slot *s = find_exec(id);
  if (!s) return;
  if (n == 0) { s->in_eof = 1; feed_stdin(s); return; }
  if (s->in_fd < 0) return;
  char *nb = realloc(s->in_buf, s->in_len + n);
  if (!nb) return;
  memcpy(nb + s->in_len, d, n); s->in_buf = nb; s->in_len += n;
  feed_stdin(s);
}

static void finish_if_done(struct exec_slot *s) {
  if (!s->exited || s->out_fd >= 0 || s->err_fd >= 0) return;
  unsigned char code[4];
  int c = WIFEXITED(s->status) ? WEXITSTATUS(s->status) : 128 + WTERMSIG(s->status);
  put32(code, (uint32_t)c);
  send_msg(T_EXIT, s->id, code, 4, NULL, 0);
  close_fd(&s->in_fd);
  free(s->in_buf);
  memset(s, 0, sizeof *s);
}

static void reap(void) {
  int st;
  pid_t p;
  while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
    for (int i = 0; i < MAX_EXECS; i++) {
      if (execs[i].used && execs[i].pid == p) {
        execs[i].exited = 1; execs[i].status = st;
        /* the command's group goes with it: a background child must not keep the streams open forever */
        kill(-p, SIGKILL);
        finish_if_done(&execs[i]);
      }
    }
  }
}

static void pump(struct exec_slot *s, int *fd, uint8_t type) {
  char buf[65536];
  ssize_t n = read(*fd, buf, sizeof buf);
  if (n > 0) { send_msg(type, s->id, buf, (size_t)n, NULL, 0); return; }
  if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
  close_fd(fd);
  finish_if_done(s);
}

/* The host went away: the commands it was waiting for are stopped, as a vanished client's would be. */
static void drop_all_execs(void) {
  for (int i = 0; i < MAX_EXECS; i++) if (execs[i].used) kill(-execs[i].pid, SIGKILL);
}

/* ---- files ----------------------------------------------------------------------------------------------------- */

static int mkdir_parents(char *path) {
  for (char *q = path + 1; *q; q++) {
    if (*q != '/') continue;
    *q = 0;
    int r = mkdir(path, 0755);
    *q = '/';
    if (r != 0 && errno != EEXIST) return -1;
  }
  return 0;
}

static void do_read(uint32_t id, const char *path) {
  struct stat st;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) { send_err(id, errno, path); return; }
  if (fstat(fd, &st) || S_ISDIR(st.st_mode)) { close(fd); send_err(id, EISDIR, path); return; }
  size_t cap = 65536, len = 0;
  char *buf = malloc(cap);
  for (;;) {
    if (!buf) { close(fd); send_err(id, ENOMEM, path); return; }
    if (len == cap) {
      if (cap >= MAX_FRAME - 64) { free(buf); close(fd); send_err(id, EFBIG, path); return; }
      cap *= 2; char *nb = realloc(buf, cap); if (!nb) { free(buf); buf = NULL; continue; } buf = nb;
    }
    ssize_t n = read(fd, buf + len, cap - len);
    if (n < 0) { if (errno == EINTR) continue; int e = errno; free(buf); close(fd); send_err(id, e, path); return; }
    if (n == 0) break;
    len += (size_t)n;
  }
  close(fd);
  send_msg(T_OK, id, buf, len, NULL, 0);
  free(buf);
}

/* WRITE payload: u32 mode | path NUL | data */
static void do_write(uint32_t id, unsigned char *pl, size_t len) {
  if (len < 5) { send_err(id, EINVAL, "bad write request"); return; }
  uint32_t mode = get32(pl);
  char *path = (char *)pl + 4;
  unsigned char *z = memchr(path, 0, len - 4);
  if (!z) { send_err(id, EINVAL, "bad write request"); return; }
  size_t dlen = len - (size_t)(z + 1 - pl);
  struct stat st;
  if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) { send_err(id, EISDIR, path); return; }
  if (mkdir_parents(path)) { send_err(id, errno, path); return; }
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
  if (fd < 0) { send_err(id, errno, path); return; }
  if (write_all(fd, z + 1, dlen) || fsync(fd)) { int e = errno; close(fd); send_err(id, e, path); return; }
  close(fd);
  send_msg(T_OK, id, NULL, 0, NULL, 0);
}

/* LIST reply: per entry u8 type (0 file, 1 dir, 2 symlink, 3 other) | u64 LE size | name NUL */
static void do_list(uint32_t id, const char *path) {
  DIR *d = opendir(path);
  if (!d) { send_err(id, errno, path); return; }
  size_t cap = 4096, len = 0;
  unsigned char *buf = malloc(cap);
  struct dirent *e;
  while (buf && (e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW)) continue;
    size_t nl = strlen(e->d_name) + 1;
    while (len + 9 + nl > cap) { cap *= 2; unsigned char *nb = realloc(buf, cap); if (!nb) { free(buf); buf = NULL; break; } buf = nb; }
    if (!buf) break;
    buf[len] = S_ISREG(st.st_mode) ? 0 : S_ISDIR(st.st_mode) ? 1 : S_ISLNK(st.st_mode) ? 2 : 3;
    uint64_t sz = (uint64_t)st.st_size;
    for (int i = 0; i < 8; i++) buf[len + 1 + i] = (unsigned char)(sz >> (8 * i));
    memcpy(buf + len + 9, e->d_name, nl);
    len += 9 + nl;
  }
  closedir(d);
  if (!buf) { send_err(id, ENOMEM, path); return; }
  send_msg(T_OK, id, buf, len, NULL, 0);
  free(buf);
}

static int rm_one(const char *p, const struct stat *st, int flag, struct FTW *f) {
  (void)st; (void)f;
  return flag == FTW_DP ? rmdir(p) : unlink(p);
}

static void do_remove(uint32_t id, const char *path) {
  struct stat st;
  if (lstat(path, &st)) { send_err(id, errno, path); return; }
  int r = S_ISDIR(st.st_mode) ? nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS) : unlink(path);
  if (r) { send_err(id, errno, path); return; }
  send_msg(T_OK, id, NULL, 0, NULL, 0);
}

static void shutdown_now(uint32_t id) {
  drop_all_execs();
  sync();
  umount2("/", MNT_DETACH);
  send_msg(T_OK, id, NULL, 0, NULL, 0);
  reboot(RB_POWER_OFF);
  /* poweroff is not wired on every machine model: a reset ends the VMM started with -no-reboot */
  reboot(RB_AUTOBOOT);
  for (;;) pause();
}

static void handle(uint8_t type, uint32_t id, unsigned char *pl, size_t len) {
  /* path-taking requests carry a NUL-terminated path first */
  const char *path = (const char *)pl;
  int has_path = len > 0 && memchr(pl, 0, len) != NULL;
  switch (type) {
  case T_PING: send_msg(T_PONG, id, AGENT_VERSION, strlen(AGENT_VERSION), NULL, 0); break;
  case T_EXEC: start_exec(id, pl, len); break;
  case T_STDIN: add_stdin(id, pl, len); break;
  case T_SIGNAL: { struct exec_slot *s = find_exec(id); if (s && len >= 4) kill(-s->pid, (int)get32(pl)); break; }
  case T_READ: if (has_path) do_read(id, path); else send_err(id, EINVAL, "bad path"); break;
  case T_WRITE: do_write(id, pl, len); break;
  case T_LIST: if (has_path) do_list(id, path); else send_err(id, EINVAL, "bad path"); break;
  case T_REMOVE: if (has_path) do_remove(id, path); else send_err(id, EINVAL, "bad path"); break;
  case T_SHUTDOWN: shutdown_now(id); break;
  default: send_err(id, ENOSYS, "unknown request");
  }
}

/* ---- main loop ------------------------------------------------------------------------------------------------- */

static unsigned char *rx;
static size_t rx_len, rx_cap;

static void lost_host(void) {
  drop_all_execs();
  if (ephemeral && seen_host) {
    sync();
    reboot(RB_POWER_OFF);
    reboot(RB_AUTOBOOT);
  }
  rx_len = 0;
  if (chan_is_vsock) close_fd(&chan);
}

static void on_readable(void) {
  if (rx_cap - rx_len < 65536) {
    size_t nc = rx_cap ? rx_cap * 2 : 1 << 20;
    unsigned char *nb = realloc(rx, nc);
    if (!nb) { lost_host(); return; }
    rx = nb; rx_cap = nc;
  }
  ssize_t n = read(chan, rx + rx_len, rx_cap - rx_len);
  if (n <= 0) {
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    lost_host();
    return;
  }
  rx_len += (size_t)n;
  size_t off = 0;
  while (rx_len - off >= 9) {
    uint32_t flen = get32(rx + off);
    if (flen < 5 || flen > MAX_FRAME) { logmsg("bad frame from host: resetting the connection"); lost_host(); return; }
    if (rx_len - off < 4 + (size_t)flen) {
      /* make room for a large frame (file writes) */
      if (4 + (size_t)flen > rx_cap) {
        unsigned char *nb = realloc(rx, 4 + (size_t)flen + 65536);
        if (!nb) { lost_host(); return; }
        rx = nb; rx_cap = 4 + (size_t)flen + 65536;
      }
      break;
    }
    seen_host = 1;
    handle(rx[off + 4], get32(rx + off + 5), rx + off + 9, flen - 5);
    off += 4 + flen;
  }
  memmove(rx, rx + off, rx_len - off);
  rx_len -= off;
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  sigset_t chld; sigemptyset(&chld); sigaddset(&chld, SIGCHLD); sigaddset(&chld, SIGIO);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  sig_fd = signalfd(-1, &chld, SFD_NONBLOCK | SFD_CLOEXEC);
  mount_basics();
  /* commands' pipes must never land on fds 0-2 */
  {
    int fd;
    while ((fd = open("/dev/null", O_RDWR)) >= 0 && fd < 3) {}
    if (fd >= 3) close(fd);
  }
  {
    char cmd[4096] = { 0 };
    int fd = open("/proc/cmdline", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) { ssize_t n = read(fd, cmd, sizeof cmd - 1); (void)n; close(fd); }
    ephemeral = strstr(cmd, "ak.ephemeral=1") != NULL;
  }
  load_modules();
  switch_to_disk();
  setenv("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", 1);
  setup_network();
  port_path = find_port();
  if (port_path) {
    chan = open(port_path, O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (chan < 0) logmsg("cannot open the agent port");
    /* the port signals SIGIO when a host connects or leaves */
    else if (fcntl(chan, F_SETOWN, getpid()) || fcntl(chan, F_SETFL, O_NONBLOCK | O_ASYNC)) logmsg("no SIGIO on the agent port");
  } else {
    listen_fd = open_vsock_listener();
    chan_is_vsock = 1;
    if (listen_fd < 0) logmsg("no virtio-serial port and no vsock: nothing to serve");
  }
  logmsg("ready");
  for (;;) {
    struct pollfd pf[2 + 3 * MAX_EXECS];
    struct exec_slot *owner[2 + 3 * MAX_EXECS];
    int kind[2 + 3 * MAX_EXECS];
    int n = 0;
    reap();
    pf[n] = (struct pollfd){ sig_fd, POLLIN, 0 }; owner[n] = NULL; kind[n++] = 5;
    if (chan >= 0 && !host_absent) { pf[n] = (struct pollfd){ chan, POLLIN, 0 }; owner[n] = NULL; kind[n++] = 0; }
    else if (listen_fd >= 0) { pf[n] = (struct pollfd){ listen_fd, POLLIN, 0 }; owner[n] = NULL; kind[n++] = 4; }
    for (int i = 0; i < MAX_EXECS; i++) {
      struct exec_slot *s = &execs[i];
      if (!s->used) continue;
      if (s->out_fd >= 0) { pf[n] = (struct pollfd){ s->out_fd, POLLIN, 0 }; owner[n] = s; kind[n++] = 1; }
      if (s->err_fd >= 0) { pf[n] = (struct pollfd){ s->err_fd, POLLIN, 0 }; owner[n] = s; kind[n++] = 2; }
      if (s->in_fd >= 0 && s->in_buf) { pf[n] = (struct pollfd){ s->in_fd, POLLOUT, 0 }; owner[n] = s; kind[n++] = 3; }
    }
    /* while no host is connected, look again now and then in case a SIGIO was missed */
    int r = poll(pf, (nfds_t)n, host_absent ? 250 : -1);
    if (r == 0) host_absent = 0;
    if (r <= 0) continue;
    for (int i = 0; i < n; i++) {
      if (!pf[i].revents) continue;
      switch (kind[i]) {
      case 0:
        if (pf[i].revents & POLLIN) on_readable();
        else if (pf[i].revents & (POLLHUP | POLLERR)) {
          /* virtio-serial: no host connected; wait for the next one without spinning */
          lost_host();
          if (!chan_is_vsock) host_absent = 1;
        }
        break;
      case 5: {
        struct signalfd_siginfo si;
        while (read(sig_fd, &si, sizeof si) > 0) if (si.ssi_signo == SIGIO) host_absent = 0;
        reap();
        break;
      }
      case 1: if (owner[i]->used) pump(owner[i], &owner[i]->out_fd, T_STDOUT); break;
      case 2: if (owner[i]->used) pump(owner[i], &owner[i]->err_fd, T_STDERR); break;
      case 3: if (owner[i]->used) feed_stdin(owner[i]); break;
      case 4: {
        int c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (c >= 0) { chan = c; rx_len = 0; }
        break;
      }
      }
    }
  }
}
