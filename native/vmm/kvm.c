/*
 * The process-wide /dev/kvm handle, the checks the engine needs from it, and the kick signal: a real-time signal
 * whose handler sets immediate_exit in the kvm_run of the VM the receiving thread is running, so KVM_RUN returns
 * at once (or never enters the guest). A handler is needed because a signal alone only interrupts the guest while
 * it is inside KVM_RUN; immediate_exit also covers a signal that lands just before the ioctl.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "vmm.h"

static __thread struct kvm_run *current_run;
static struct ak_probe probe;
static int kvm_fd = -1;
static pthread_once_t probe_once = PTHREAD_ONCE_INIT;

static void kick_handler(int sig) {
  (void)sig;
  struct kvm_run *run = current_run;
  if (run) __atomic_store_n(&run->immediate_exit, 1, __ATOMIC_SEQ_CST);
}

void ak_runner_set_current(struct kvm_run *run) { __atomic_store_n(&current_run, run, __ATOMIC_SEQ_CST); }

/* The highest real-time signal nobody in this process handles yet (Node uses SIGUSR1 for its inspector). */
static int install_kick_signal(char *err) {
  for (int sig = SIGRTMAX - 2; sig >= SIGRTMIN + 2; sig--) {
    struct sigaction old;
    if (sigaction(sig, NULL, &old) != 0) continue;
    if (old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) continue;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = kick_handler;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    if (sigaction(sig, &sa, NULL) == 0) return sig;
  }
  snprintf(err, AK_ERR_LEN, "no free real-time signal for stopping VMs");
  return -1;
}

static void do_probe(void) {
  probe.ok = 0;
  kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm_fd < 0) {
    int e = errno;
    if (e == ENOENT) snprintf(probe.reason, AK_ERR_LEN, "/dev/kvm does not exist (no KVM on this machine)");
    else if (e == EACCES || e == EPERM)
      snprintf(probe.reason, AK_ERR_LEN, "no permission to open /dev/kvm (add the user to the kvm group)");
    else snprintf(probe.reason, AK_ERR_LEN, "cannot open /dev/kvm: %s", strerror(e));
    return;
  }
  probe.api_version = ioctl(kvm_fd, KVM_GET_API_VERSION, 0);
  if (probe.api_version != KVM_API_VERSION) {
    snprintf(probe.reason, AK_ERR_LEN, "KVM API version %d, expected %d", probe.api_version, KVM_API_VERSION);
    goto fail;
  }
  probe.sync_regs = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_SYNC_REGS);
  int need = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
  if (probe.sync_regs < 0 || (probe.sync_regs & need) != need) {
    snprintf(probe.reason, AK_ERR_LEN, "KVM lacks KVM_CAP_SYNC_REGS for general and segment registers");
    goto fail;
  }
  probe.immediate_exit = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT);
  if (probe.immediate_exit <= 0) {
    snprintf(probe.reason, AK_ERR_LEN, "KVM lacks KVM_CAP_IMMEDIATE_EXIT (needed to stop a running guest)");
    goto fail;
  }
  if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE) <= 0) {
    snprintf(probe.reason, AK_ERR_LEN, "KVM lacks KVM_CAP_XSAVE (needed to save and restore guest FPU state)");
    goto fail;
  }
  int xsave2 = ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_XSAVE2);
  if (xsave2 > (int)sizeof(struct kvm_xsave)) {
    snprintf(probe.reason, AK_ERR_LEN, "guest FPU state of %d bytes does not fit struct kvm_xsave", xsave2);
    goto fail;
  }
  if (ioctl(kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_USER_MEMORY) <= 0) {
    snprintf(probe.reason, AK_ERR_LEN, "KVM lacks KVM_CAP_USER_MEMORY");
    goto fail;
  }
  probe.vcpu_mmap_size = ioctl(kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (probe.vcpu_mmap_size < (int)sizeof(struct kvm_run)) {
    snprintf(probe.reason, AK_ERR_LEN, "KVM_GET_VCPU_MMAP_SIZE failed: %s", strerror(errno));
    goto fail;
  }
  probe.kick_signal = install_kick_signal(probe.reason);
  if (probe.kick_signal < 0) goto fail;
  probe.ok = 1;
  return;
fail:
  close(kvm_fd);
  kvm_fd = -1;
}

const struct ak_probe *ak_kvm_probe(void) {
  pthread_once(&probe_once, do_probe);
  return &probe;
}

int ak_kvm_fd(void) { return ak_kvm_probe()->ok ? kvm_fd : -1; }

uint64_t ak_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
