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
 *
 * Resets: dropping the private pages (MADV_DONTNEED) makes KVM forget its mappings of the whole range, so each
 * page the next run touches faults again, 25-65 us each on nested KVM: ~0.7 ms for JavaScript `1+1`. Instead the
 * slot keeps a dirty log, and a reset copies the snapshot's bytes back into just the pages written since the last
 * one (~20 for `1+1`): the pages stay private and mapped. With KVM's manual log protection the first
 * AK_RESET_HOT_PAGES written pages also stay writable ("hot": copied back at every reset, ~0.3 us each, instead of a
 * write-protection fault of ~3 us when written again); the others are write-protected again and logged. The pages a
 * VM holds privately are capped (ak_vm_set_reset_copy_limit); past the cap a reset drops them all, so an idle
 * pooled VM never holds more than that.
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

static void free_bitmaps(struct ak_vm *vm) {
  free(vm->dirty);
  free(vm->host_dirty);
  free(vm->kept);
  free(vm->hot);
  vm->dirty = vm->host_dirty = vm->kept = vm->hot = NULL;
}

/* The memory slot, with KVM's dirty log when the VM has bitmaps for it. */
static int set_slot(struct ak_vm *vm, uint64_t size) {
  struct kvm_userspace_memory_region region = {.slot = 0, .flags = vm->dirty ? KVM_MEM_LOG_DIRTY_PAGES : 0,
      .guest_phys_addr = 0, .memory_size = size, .userspace_addr = (uintptr_t)vm->mem};
  return kvm_ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region);
}

/* Fetches (and clears) KVM's dirty log into vm->dirty. */
static int get_dirty_log(struct ak_vm *vm) {
  struct kvm_dirty_log log = {.slot = 0, .dirty_bitmap = vm->dirty};
  return kvm_ioctl(vm->vm_fd, KVM_GET_DIRTY_LOG, &log);
}

/* Write-protects `bits`' pages again and clears them in KVM's log (with manual protection; else GET did both). */
static int protect_pages(struct ak_vm *vm, uint64_t *bits) {
  if (!vm->manual_protect) return 0;
  struct kvm_clear_dirty_log clear = {.slot = 0, .num_pages = (uint32_t)(vm->mem_size / AK_PAGE), .first_page = 0, .dirty_bitmap = bits};
  return kvm_ioctl(vm->vm_fd, KVM_CLEAR_DIRTY_LOG, &clear);
}

/* Forgets what was written and kept: the memory is all the snapshot's again (new mapping or dropped pages), and
 * every page is write-protected in KVM's log (given the pages KVM logged, in vm->dirty). */
static int forget_writes(struct ak_vm *vm) {
  size_t bytes = AK_BITMAP_WORDS(vm->mem_size) * 8;
  int rc = vm->dirty ? protect_pages(vm, vm->dirty) : 0;
  if (vm->host_dirty) memset(vm->host_dirty, 0, bytes);
  if (vm->kept) memset(vm->kept, 0, bytes);
  if (vm->hot) memset(vm->hot, 0, bytes);
  vm->kept_pages = vm->hot_pages = 0;
  vm->view_lo = vm->view_hi = 0;
  return rc;
}

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
  free_bitmaps(vm);
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
  /* what the log holds belongs to the previous guest */
  if ((vm->dirty && get_dirty_log(vm) < 0) || forget_writes(vm) != 0) {
    close_vm(vm);
    return NULL;
  }
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
  /* With a dirty log where KVM offers one (resets copy back only what was written); without, resets drop. */
  size_t words = AK_BITMAP_WORDS(vm->mem_size);
  vm->dirty = calloc(words, 8);
  vm->host_dirty = calloc(words, 8);
  vm->kept = calloc(words, 8);
  vm->hot = calloc(words, 8);
  /* Manual protection (without "initially set": a new slot starts all protected and clean) lets written pages stay
   * writable across resets (see vm->hot). */
  struct kvm_enable_cap manual = {.cap = KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2, .args = {KVM_DIRTY_LOG_MANUAL_PROTECT_ENABLE}};
  vm->manual_protect = ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MANUAL_DIRTY_LOG_PROTECT2) > 0 &&
                       kvm_ioctl(vm->vm_fd, KVM_ENABLE_CAP, &manual) == 0;
  if (!vm->dirty || !vm->host_dirty || !vm->kept || !vm->hot || set_slot(vm, vm->mem_size) < 0) {
    free_bitmaps(vm);
    vm->manual_protect = 0;
    if (set_slot(vm, vm->mem_size) < 0) {
      snprintf(err, AK_ERR_LEN, "KVM_SET_USER_MEMORY_REGION failed: %s", strerror(errno));
      goto fail;
    }
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
  free_bitmaps(vm);
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

static _Atomic uint64_t reset_copy_limit = AK_RESET_COPY_DEFAULT;

void ak_vm_set_reset_copy_limit(uint64_t bytes) { atomic_store(&reset_copy_limit, bytes); }

static void mark_range(uint64_t *bits, uint64_t addr, uint64_t len) {
  for (uint64_t p = addr / AK_PAGE; p < (addr + len + AK_PAGE - 1) / AK_PAGE; p++) bits[p / 64] |= 1ull << (p % 64);
}

void ak_vm_host_wrote(struct ak_vm *vm, uint64_t addr, uint64_t len) {
  if (vm->host_dirty && len) mark_range(vm->host_dirty, addr, len);
}

void ak_vm_host_viewed(struct ak_vm *vm, uint64_t addr, uint64_t len) {
  if (!len) return;
  if (vm->view_lo == vm->view_hi) {
    vm->view_lo = addr;
    vm->view_hi = addr + len;
    return;
  }
  if (addr < vm->view_lo) vm->view_lo = addr;
  if (addr + len > vm->view_hi) vm->view_hi = addr + len;
}

static const uint8_t zero_page[AK_PAGE];

/* The snapshot's bytes of page p. */
static const uint8_t *snapshot_page(const struct ak_snapshot *s, uint64_t p) {
  return s->data[p / 64] >> (p % 64) & 1 ? s->image + p * AK_PAGE : zero_page;
}

/*
 * Pages of the view range that differ from the snapshot, into vm->dirty. JavaScript wrote there at offsets nobody
 * recorded; a page it wrote is private (writing copied it), so only private pages are compared, and only those not
 * already known to be written.
 */
static int mark_view_writes(struct ak_vm *vm, char *err) {
  size_t words = AK_BITMAP_WORDS(vm->mem_size);
  uint64_t *private = calloc(words, 8);
  if (!private) {
    snprintf(err, AK_ERR_LEN, "out of memory");
    return -1;
  }
  int rc = ak_mark_private(vm->mem, vm->view_lo / AK_PAGE, (vm->view_hi + AK_PAGE - 1) / AK_PAGE, (uint8_t *)private, err);
  for (size_t w = 0; rc == 0 && w < words; w++) {
    for (uint64_t b = private[w] & ~vm->dirty[w]; b; b &= b - 1) {
      uint64_t p = w * 64 + (uint64_t)__builtin_ctzll(b);
      if (memcmp(vm->mem + p * AK_PAGE, snapshot_page(vm->base, p), AK_PAGE) != 0) vm->dirty[w] |= 1ull << (p % 64);
    }
  }
  free(private);
  return rc;
}

/* Everything written since the last reset, into vm->dirty: KVM's dirty log (guest writes, and KVM's own on its
 * behalf), the host's copies, and what JavaScript wrote through views. */
static int collect_writes(struct ak_vm *vm, char *err) {
  if (get_dirty_log(vm) < 0) {
    snprintf(err, AK_ERR_LEN, "KVM_GET_DIRTY_LOG failed: %s", strerror(errno));
    return -1;
  }
  size_t words = AK_BITMAP_WORDS(vm->mem_size);
  for (size_t w = 0; w < words; w++) vm->dirty[w] |= vm->host_dirty[w] | vm->hot[w];
  return vm->view_lo != vm->view_hi ? mark_view_writes(vm, err) : 0;
}

/* Copies the snapshot's pages marked in vm->dirty back (holes of the snapshot are zero). */
static uint64_t restore_pages(struct ak_vm *vm) {
  const struct ak_snapshot *s = vm->base;
  size_t words = AK_BITMAP_WORDS(vm->mem_size);
  uint64_t n = 0;
  for (size_t w = 0; w < words; w++) {
    for (uint64_t b = vm->dirty[w]; b; b &= b - 1) {
      uint64_t p = w * 64 + (uint64_t)__builtin_ctzll(b);
      memcpy(vm->mem + p * AK_PAGE, snapshot_page(s, p), AK_PAGE);
      n++;
    }
  }
  return n;
}

/*
 * Removes and re-adds the memory slot: KVM forgets every mapping it built, including its shadows of the guest's
 * page tables. Needed when the host area (page tables, GDT, TSS) was written: restoring those bytes behind KVM's
 * back would leave it translating by what the guest wrote.
 */
static int reload_slot(struct ak_vm *vm, char *err) {
  if (set_slot(vm, 0) < 0 || set_slot(vm, vm->mem_size) < 0) {
    snprintf(err, AK_ERR_LEN, "reloading the memory slot failed: %s", strerror(errno));
    vm->stopped = 1;
    vm->tainted = 1;
    return -1;
  }
  /* the new slot starts all write-protected with an empty log */
  memset(vm->hot, 0, AK_BITMAP_WORDS(vm->mem_size) * 8);
  vm->hot_pages = 0;
  atomic_fetch_add(&ak_stats.slot_reloads, 1);
  return 0;
}

/*
 * After a copying reset: the pages written this time that are not hot yet become hot while there is room (KVM
 * leaves them writable and logged); the rest are write-protected again so that the next write is logged.
 * Reuses vm->dirty.
 */
static int keep_hot(struct ak_vm *vm) {
  if (!vm->manual_protect) return 0;   /* KVM_GET_DIRTY_LOG protected them all already */
  size_t words = AK_BITMAP_WORDS(vm->mem_size);
  int protect = 0;
  for (size_t w = 0; w < words; w++) {
    uint64_t fresh = vm->dirty[w] & ~vm->hot[w];
    for (uint64_t b = fresh; b && vm->hot_pages < AK_RESET_HOT_PAGES; b &= b - 1) {
      uint64_t bit = b & -b;
      vm->hot[w] |= bit;
      fresh &= ~bit;
      vm->hot_pages++;
    }
    vm->dirty[w] = fresh;
    protect |= fresh != 0;
  }
  return protect ? protect_pages(vm, vm->dirty) : 0;
}

/* Copies the written pages back if the VM's private pages stay within the copy limit: 1 if it did, 0 if the
 * reset must drop them instead, -1 if KVM refused to protect pages again. */
static int reset_by_copy(struct ak_vm *vm) {
  size_t words = AK_BITMAP_WORDS(vm->mem_size);
  uint64_t fresh = 0, limit = atomic_load(&reset_copy_limit);
  for (size_t w = 0; w < words; w++) fresh += (uint64_t)__builtin_popcountll(vm->dirty[w] & ~vm->kept[w]);
  if (limit == 0 || (vm->kept_pages + fresh) * AK_PAGE > limit) return 0;
  atomic_fetch_add(&ak_stats.pages_restored, (long)restore_pages(vm));
  for (size_t w = 0; w < words; w++) vm->kept[w] |= vm->dirty[w];
  vm->kept_pages += fresh;
  return keep_hot(vm) == 0 ? 1 : -1;
}

int ak_vm_reset(struct ak_vm *vm, char *err) {
  /* reload: the host area was written, or KVM's log is in an unknown state: rebuild KVM's mappings with the slot */
  int copied = 0, reload = 0;
  if (vm->dirty) {
    if (collect_writes(vm, err) != 0) {
      reload = 1;
    } else {
      reload = (vm->dirty[0] & ((1ull << (AK_HOST_AREA / AK_PAGE)) - 1)) != 0;
      copied = reset_by_copy(vm);
      if (copied < 0) reload = 1, copied = 0;
    }
  }
  if (!copied) {
    if (madvise(vm->mem, vm->mem_size, MADV_DONTNEED) != 0) {
      snprintf(err, AK_ERR_LEN, "cannot reset guest memory: %s", strerror(errno));
      return -1;
    }
    if (forget_writes(vm) != 0) reload = 1;
  }
  if (vm->host_dirty) memset(vm->host_dirty, 0, AK_BITMAP_WORDS(vm->mem_size) * 8);
  vm->view_lo = vm->view_hi = 0;
  atomic_fetch_add(copied ? &ak_stats.resets_copied : &ak_stats.resets_dropped, 1);
  if (reload && reload_slot(vm, err) != 0) return -1;
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
