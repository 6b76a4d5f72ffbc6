/*
 * One micro-VM: a KVM VM with one memory slot (a MAP_PRIVATE mapping of a snapshot's memfd) and one vCPU whose
 * registers travel through the kvm_run page (KVM_CAP_SYNC_REGS) instead of ioctls (~7 us each on nested KVM).
 *
 * Exits: `out` on an abi.h port returns to the caller with the port and operand; KVM completes the `out` (steps
 * past it) on the next KVM_RUN unless RIP was changed meanwhile. A shutdown exit is a CPU exception at CPL3 (no
 * IDT: any exception triple-faults) and leaves the VM stopped until it is reset or entered again. Every other
 * exit is reported as unexpected, never trusted, and also stops the VM.
 *
 * Shells: creating a KVM VM and vCPU costs ~0.3 ms here and closing them as much again, so a disposed VM that
 * ended cleanly keeps its VM and vCPU fds in a small cache (its guest memory replaced by an inaccessible
 * anonymous mapping, its snapshot released). A new VM of the same memory size takes a shell, maps its snapshot over
 * the same addresses (KVM's MMU notifier drops every stale translation) and reloads all vCPU state the guest can
 * see (general, segment and control registers, x87/SSE). A VM that faulted or exited unexpectedly is destroyed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "snapshot.h"
#include "vmm.h"

static int kvm_ioctl(int fd, unsigned long req, void *arg) {
  int r;
  do r = ioctl(fd, req, arg);
  while (r < 0 && errno == EINTR);
  return r;
}

static pthread_mutex_t shells_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ak_vm *shells[AK_SHELL_CACHE_MAX];
static int nshells;
static int shell_cap = AK_SHELL_CACHE_DEFAULT;

static void adopt_snapshot(struct ak_vm *vm, struct ak_snapshot *snap) {
  vm->base = snap;
  ak_snapshot_ref(snap);
  vm->pending = snap->cpu;
  vm->pending_mask = AK_PENDING_REGS | AK_PENDING_SREGS | AK_PENDING_FPU;
  vm->stopped = 0;
  atomic_store(&vm->stop, AK_STOP_NONE);
  atomic_fetch_add(&ak_stats.vms, 1);
}

static struct ak_vm *take_shell(uint64_t mem_size) {
  struct ak_vm *vm = NULL;
  pthread_mutex_lock(&shells_lock);
  for (int i = nshells - 1; i >= 0; i--) {
    if (shells[i]->mem_size != mem_size) continue;
    vm = shells[i];
    shells[i] = shells[--nshells];
    atomic_fetch_sub(&ak_stats.shells, 1);
    break;
  }
  pthread_mutex_unlock(&shells_lock);
  return vm;
}

static void close_vm(struct ak_vm *vm) {
  munmap(vm->run, (size_t)ak_kvm_probe()->vcpu_mmap_size);
  close(vm->vcpu_fd);
  close(vm->vm_fd);
  munmap(vm->mem, vm->mem_size);
  pthread_mutex_destroy(&vm->lock);
  free(vm);
}

static struct ak_vm *reuse_shell(struct ak_snapshot *snap) {
  struct ak_vm *vm = take_shell(snap->mem_size);
  if (!vm) return NULL;
  void *m = mmap(vm->mem, vm->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE | MAP_FIXED, snap->memfd, 0);
  if (m != vm->mem) {
    close_vm(vm);
    return NULL;
  }
  madvise(vm->mem, vm->mem_size, MADV_DONTFORK);
  adopt_snapshot(vm, snap);
  return vm;
}

struct ak_vm *ak_vm_create(struct ak_snapshot *snap, char *err) {
  const struct ak_probe *probe = ak_kvm_probe();
  if (!probe->ok) {
    snprintf(err, AK_ERR_LEN, "%s", probe->reason);
    return NULL;
  }
  struct ak_vm *vm = reuse_shell(snap);
  if (vm) return vm;
  vm = calloc(1, sizeof *vm);
  if (!vm) {
    snprintf(err, AK_ERR_LEN, "out of memory");
    return NULL;
  }
  vm->vm_fd = vm->vcpu_fd = -1;
  vm->mem = MAP_FAILED;
  vm->run = MAP_FAILED;
  vm->mem_size = snap->mem_size;
  pthread_mutex_init(&vm->lock, NULL);
  atomic_init(&vm->stop, AK_STOP_NONE);

  /* MAP_NORESERVE: the VM's private pages are bounded by its size, no need to reserve it all up front. */
  vm->mem = mmap(NULL, vm->mem_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_NORESERVE, snap->memfd, 0);
  if (vm->mem == MAP_FAILED) {
    snprintf(err, AK_ERR_LEN, "cannot map guest memory: %s", strerror(errno));
    goto fail;
  }
  madvise(vm->mem, vm->mem_size, MADV_DONTFORK);   /* a child process must not share (or copy) guest RAM */

  vm->vm_fd = ioctl(ak_kvm_fd(), KVM_CREATE_VM, 0);
  if (vm->vm_fd < 0) {
    snprintf(err, AK_ERR_LEN, "KVM_CREATE_VM failed: %s", strerror(errno));
    goto fail;
  }
  struct kvm_userspace_memory_region region = {
      .slot = 0, .flags = 0, .guest_phys_addr = 0, .memory_size = vm->mem_size, .userspace_addr = (uintptr_t)vm->mem};
  if (kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
    snprintf(err, AK_ERR_LEN, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(errno));
    goto fail;
  }
  vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
  if (vm->vcpu_fd < 0) {
    snprintf(err, AK_ERR_LEN, "KVM_CREATE_VCPU failed: %s", strerror(errno));
    goto fail;
  }
  vm->run = mmap(NULL, (size_t)probe->vcpu_mmap_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
  if (vm->run == MAP_FAILED) {
    snprintf(err, AK_ERR_LEN, "cannot map kvm_run: %s", strerror(errno));
    goto fail;
  }
  madvise(vm->run, (size_t)probe->vcpu_mmap_size, MADV_DONTFORK);
  vm->run->kvm_valid_regs = KVM_SYNC_X86_REGS | KVM_SYNC_X86_SREGS;
  adopt_snapshot(vm, snap);
  return vm;
fail:
  if (vm->run != MAP_FAILED) munmap(vm->run, (size_t)probe->vcpu_mmap_size);
  if (vm->vcpu_fd >= 0) close(vm->vcpu_fd);
  if (vm->vm_fd >= 0) close(vm->vm_fd);
  if (vm->mem != MAP_FAILED) munmap(vm->mem, vm->mem_size);
  pthread_mutex_destroy(&vm->lock);
  free(vm);
  return NULL;
}

/* Frees the guest's memory and snapshot but keeps the KVM VM and vCPU for reuse. 0 if it went to the cache. */
static int retire(struct ak_vm *vm) {
  if (vm->tainted) return -1;
  pthread_mutex_lock(&shells_lock);
  int room = nshells < shell_cap;
  pthread_mutex_unlock(&shells_lock);
  if (!room) return -1;
  void *m = mmap(vm->mem, vm->mem_size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
  if (m != vm->mem) return -1;
  pthread_mutex_lock(&shells_lock);
  room = nshells < shell_cap;
  if (room) {
    shells[nshells++] = vm;
    atomic_fetch_add(&ak_stats.shells, 1);
  }
  pthread_mutex_unlock(&shells_lock);
  return room ? 0 : -1;
}

void ak_vm_destroy(struct ak_vm *vm) {
  if (!vm) return;
  struct ak_snapshot *base = vm->base;
  vm->base = NULL;
  atomic_fetch_sub(&ak_stats.vms, 1);
  if (retire(vm) != 0) close_vm(vm);
  ak_snapshot_unref(base);
}

void ak_vm_set_shell_cache(int cap) {
  pthread_mutex_lock(&shells_lock);
  shell_cap = cap < 0 ? 0 : cap > AK_SHELL_CACHE_MAX ? AK_SHELL_CACHE_MAX : cap;
  pthread_mutex_unlock(&shells_lock);
  ak_vm_trim();
}

void ak_vm_trim(void) {
  for (;;) {
    pthread_mutex_lock(&shells_lock);
    struct ak_vm *vm = nshells > shell_cap ? shells[--nshells] : NULL;
    if (vm) atomic_fetch_sub(&ak_stats.shells, 1);
    pthread_mutex_unlock(&shells_lock);
    if (!vm) return;
    close_vm(vm);
  }
}

/*
 * Lets KVM finish what the last exit left pending (stepping past an `out`, or an emulated access answered with
 * zeros) without running any guest instruction: KVM_RUN with immediate_exit set.
 */
static int complete_pending(struct ak_vm *vm) {
  /* Values still waiting in kvm_run (dirty) would be overwritten by the state KVM stores on the way out. */
  struct kvm_run *run = vm->run;
  __u32 dirty = run->kvm_dirty_regs;
  struct kvm_regs regs = run->s.regs.regs;
  struct kvm_sregs sregs = run->s.regs.sregs;
  run->kvm_dirty_regs = 0;
  run->immediate_exit = 1;
  int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
  int e = errno;
  run->immediate_exit = 0;
  if (dirty & KVM_SYNC_X86_REGS) run->s.regs.regs = regs;
  if (dirty & KVM_SYNC_X86_SREGS) run->s.regs.sregs = sregs;
  run->kvm_dirty_regs = dirty;
  vm->io_pending = 0;
  errno = e;
  return r < 0 && e != EINTR ? -1 : 0;
}

/* Loads what reset/enter/create left pending. -1 with detail on failure. */
static int apply_pending(struct ak_vm *vm, char *detail, size_t dlen) {
  unsigned m = vm->pending_mask;
  if (!m) return 0;
  /* KVM steps past a completed `out` on the next KVM_RUN only if RIP is unchanged (kvm_pvm reports RIP already
   * past it): let KVM finish first when the new RIP is near enough to be mistaken for it. */
  if (vm->io_pending && (m & AK_PENDING_REGS) && vm->pending.regs.rip + 16 > vm->io_rip &&
      vm->pending.regs.rip < vm->io_rip + 16 && complete_pending(vm) != 0) {
    snprintf(detail, dlen, "completing the previous exit failed: %s", strerror(errno));
    return -1;
  }
  if ((m & AK_PENDING_FPU) && kvm_ioctl(vm->vcpu_fd, KVM_SET_XSAVE, &vm->pending.fpu) < 0) {
    snprintf(detail, dlen, "KVM_SET_XSAVE failed: %s", strerror(errno));
    return -1;
  }
  /* Through the kvm_run page, no ioctl. (KVM loads the general registers before the segment registers; under
   * kvm_pvm that order loses RFLAGS.IOPL, which is why `out` permission comes from the TSS I/O bitmap.) */
  if (m & AK_PENDING_REGS) {
    vm->run->s.regs.regs = vm->pending.regs;
    vm->run->kvm_dirty_regs |= KVM_SYNC_X86_REGS;
  }
  if (m & AK_PENDING_SREGS) {
    vm->run->s.regs.sregs = vm->pending.sregs;
    vm->run->kvm_dirty_regs |= KVM_SYNC_X86_SREGS;
  }
  vm->pending_mask = 0;
  return 0;
}

static int is_ak_port(uint16_t port) { return port >= AK_PORT_READY && port <= AK_PORT_ABORT; }

static void decode_exit(struct ak_vm *vm, struct ak_exit *out) {
  struct kvm_run *run = vm->run;
  out->kvm_reason = run->exit_reason;
  out->rip = run->s.regs.regs.rip;
  switch (run->exit_reason) {
    case KVM_EXIT_IO: {
      uint32_t size = run->io.size;
      int good_size = size == 1 || size == 2 || size == 4;
      uint64_t end = (uint64_t)run->io.data_offset + (uint64_t)size * run->io.count;
      if (run->io.direction == KVM_EXIT_IO_OUT && run->io.count == 1 && good_size && is_ak_port(run->io.port) &&
          end <= (uint64_t)ak_kvm_probe()->vcpu_mmap_size) {
        uint32_t v = 0;
        memcpy(&v, (uint8_t *)run + run->io.data_offset, size);
        out->kind = AK_EXIT_PORT;
        out->port = run->io.port;
        out->value = v;
        vm->io_pending = 1;
        vm->io_rip = out->rip;
        return;
      }
      out->kind = AK_EXIT_UNEXPECTED;
      out->port = run->io.port;
      snprintf(out->detail, sizeof out->detail, "port %s 0x%x (%u x %u bytes) is not part of the guest ABI",
               run->io.direction == KVM_EXIT_IO_OUT ? "write to" : "read from", run->io.port, run->io.count, size);
      if (end <= (uint64_t)ak_kvm_probe()->vcpu_mmap_size) memset((uint8_t *)run + run->io.data_offset, 0, end - run->io.data_offset);
      complete_pending(vm);
      break;
    }
    case KVM_EXIT_SHUTDOWN:
      out->kind = AK_EXIT_FAULT;
      snprintf(out->detail, sizeof out->detail, "CPU exception in the guest at rip 0x%llx", (unsigned long long)out->rip);
      break;
    case KVM_EXIT_MMIO:
      out->kind = AK_EXIT_UNEXPECTED;
      snprintf(out->detail, sizeof out->detail, "guest access to 0x%llx, outside its memory",
               (unsigned long long)run->mmio.phys_addr);
      memset(run->mmio.data, 0, sizeof run->mmio.data);
      complete_pending(vm);
      break;
    case KVM_EXIT_HLT:
      out->kind = AK_EXIT_UNEXPECTED;
      snprintf(out->detail, sizeof out->detail, "guest halted");
      break;
    case KVM_EXIT_FAIL_ENTRY:
      out->kind = AK_EXIT_UNEXPECTED;
      snprintf(out->detail, sizeof out->detail, "VM entry failed (hardware reason 0x%llx)",
               (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
      break;
    case KVM_EXIT_INTERNAL_ERROR:
      out->kind = AK_EXIT_UNEXPECTED;
      snprintf(out->detail, sizeof out->detail, "KVM internal error (suberror %u)", run->internal.suberror);
      break;
    default:
      out->kind = AK_EXIT_UNEXPECTED;
      snprintf(out->detail, sizeof out->detail, "unexpected VM exit (KVM exit reason %u)", run->exit_reason);
      break;
  }
  vm->stopped = 1;
  vm->tainted = 1;
}

void ak_vm_run(struct ak_vm *vm, uint64_t deadline_ns, struct ak_exit *out) {
  memset(out, 0, sizeof *out);
  uint64_t t0 = ak_now_ns();
  if (apply_pending(vm, out->detail, sizeof out->detail) != 0) {
    out->kind = AK_EXIT_UNEXPECTED;
    out->kvm_reason = UINT32_MAX;
    vm->stopped = 1;
    vm->tainted = 1;
    return;
  }
  pthread_mutex_lock(&vm->lock);
  vm->thread = pthread_self();
  vm->in_run = 1;
  pthread_mutex_unlock(&vm->lock);
  ak_runner_set_current(vm->run);
  if (deadline_ns && ak_runner_arm(deadline_ns) != 0) {
    out->kind = AK_EXIT_UNEXPECTED;
    out->kvm_reason = UINT32_MAX;
    snprintf(out->detail, sizeof out->detail, "cannot arm the run's timer: %s", strerror(errno));
    goto done;
  }
  for (;;) {
    /* Order matters: clear immediate_exit, then check `stop` (a kick sets stop before it signals). */
    __atomic_store_n(&vm->run->immediate_exit, 0, __ATOMIC_SEQ_CST);
    if (atomic_load(&vm->stop) != AK_STOP_NONE) {
      out->kind = AK_EXIT_CANCELLED;
      break;
    }
    if (deadline_ns && ak_now_ns() >= deadline_ns) {
      out->kind = AK_EXIT_TIMEOUT;
      break;
    }
    int r = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    if (r < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      out->kind = AK_EXIT_UNEXPECTED;
      out->kvm_reason = UINT32_MAX;
      snprintf(out->detail, sizeof out->detail, "KVM_RUN failed: %s", strerror(errno));
      vm->stopped = 1;
      vm->tainted = 1;
      break;
    }
    if (vm->run->exit_reason == KVM_EXIT_INTR) continue;
    decode_exit(vm, out);
    break;
  }
  if (out->kind == AK_EXIT_CANCELLED || out->kind == AK_EXIT_TIMEOUT) out->rip = vm->run->s.regs.regs.rip;
  if (deadline_ns) ak_runner_arm(0);
done:
  ak_runner_set_current(NULL);
  pthread_mutex_lock(&vm->lock);
  vm->in_run = 0;
  pthread_mutex_unlock(&vm->lock);
  out->run_ns = ak_now_ns() - t0;
}

void ak_vm_kick(struct ak_vm *vm, enum ak_stop why) {
  pthread_mutex_lock(&vm->lock);
  atomic_store(&vm->stop, why);
  if (vm->in_run) pthread_kill(vm->thread, ak_kvm_probe()->kick_signal);
  pthread_mutex_unlock(&vm->lock);
}

static int same_segment(const struct kvm_segment *a, const struct kvm_segment *b) {
  return a->selector == b->selector && a->base == b->base && a->limit == b->limit && a->type == b->type &&
         a->dpl == b->dpl && a->present == b->present && a->l == b->l && a->db == b->db;
}

/* Whether the segment state KVM stored at the last exit still equals `want` (a guest at CPL3 can only reload
 * data segment selectors): then reset skips KVM_SET_SREGS, an ioctl of ~7 us here. */
static int sregs_unchanged(const struct ak_vm *vm, const struct kvm_sregs *want) {
  if (vm->pending_mask & AK_PENDING_SREGS) return 0;   /* never loaded yet */
  const struct kvm_sregs *have = &vm->run->s.regs.sregs;
  return same_segment(&have->cs, &want->cs) && same_segment(&have->ss, &want->ss) && same_segment(&have->ds, &want->ds) &&
         same_segment(&have->es, &want->es) && same_segment(&have->fs, &want->fs) && same_segment(&have->gs, &want->gs) &&
         have->tr.selector == want->tr.selector && have->gdt.base == want->gdt.base && have->gdt.limit == want->gdt.limit &&
         have->idt.base == want->idt.base && have->idt.limit == want->idt.limit && have->cr0 == want->cr0 &&
         have->cr3 == want->cr3 && have->cr4 == want->cr4 && have->efer == want->efer;
}

int ak_vm_reset(struct ak_vm *vm, char *err) {
  if (madvise(vm->mem, vm->mem_size, MADV_DONTNEED) != 0) {
    snprintf(err, AK_ERR_LEN, "cannot reset guest memory: %s", strerror(errno));
    return -1;
  }
  unsigned sregs = sregs_unchanged(vm, &vm->base->cpu.sregs) ? 0 : AK_PENDING_SREGS;
  vm->pending = vm->base->cpu;
  vm->pending_mask = AK_PENDING_REGS | AK_PENDING_FPU | sregs;
  vm->stopped = 0;
  return 0;
}

void ak_vm_enter(struct ak_vm *vm, uint64_t rip, uint64_t rsp, const uint64_t args[4]) {
  ak_layout_entry_regs(&vm->pending.regs, rip, rsp, args);
  vm->pending_mask |= AK_PENDING_REGS;
  vm->stopped = 0;
}

struct ak_snapshot *ak_vm_snapshot(struct ak_vm *vm, char *err) {
  /* The state the VM would resume from: an `out` completed, and whatever reset/enter left to load. */
  if (vm->io_pending && complete_pending(vm) != 0) {
    snprintf(err, AK_ERR_LEN, "completing the last exit failed: %s", strerror(errno));
    return NULL;
  }
  struct ak_cpu cpu;
  unsigned m = vm->pending_mask;
  cpu.regs = (m & AK_PENDING_REGS) ? vm->pending.regs : vm->run->s.regs.regs;
  cpu.sregs = (m & AK_PENDING_SREGS) ? vm->pending.sregs : vm->run->s.regs.sregs;
  if (m & AK_PENDING_FPU) cpu.fpu = vm->pending.fpu;
  else if (kvm_ioctl(vm->vcpu_fd, KVM_GET_XSAVE, &cpu.fpu) < 0) {
    snprintf(err, AK_ERR_LEN, "KVM_GET_XSAVE failed: %s", strerror(errno));
    return NULL;
  } else {
    /* components still in their initial state come back as initial values: mark them present (see vmm.h) */
    uint64_t bv;
    memcpy(&bv, (uint8_t *)cpu.fpu.region + AK_XSAVE_XSTATE_BV, 8);
    bv |= AK_XSTATE_X87_SSE;
    memcpy((uint8_t *)cpu.fpu.region + AK_XSAVE_XSTATE_BV, &bv, 8);
  }
  return ak_snapshot_copy(vm->mem, vm->base, &cpu, err);
}

int ak_vm_range_ok(const struct ak_vm *vm, uint64_t addr, uint64_t len) {
  return addr <= vm->mem_size && len <= vm->mem_size - addr ? 0 : -1;
}
