/*
 * The KVM micro-VM engine: the C core behind the N-API addon (addon.c). Nothing here knows about JavaScript.
 *
 * A snapshot is guest memory in a sealed memfd plus the vCPU state (general registers, segment/control registers,
 * FPU/SSE). A VM is always created from a snapshot: its memory is the snapshot's memfd mapped MAP_PRIVATE (copy on
 * write), so creating one copies nothing; resetting it copies back the pages written since the last reset (KVM's
 * dirty log) or, past a limit, drops every private page (see ak_vm_reset). A fresh guest image becomes a snapshot
 * first (ak_snapshot_from_image): one code path.
 *
 * Threads: ak_vm_run / ak_vm_snapshot / ak_vm_destroy may block (KVM_RUN, copies, closing fds) and are called on
 * runner threads (runner.c). Everything else is quick and called on the JavaScript thread while the VM is idle.
 */
#ifndef AK_VMM_H
#define AK_VMM_H

#include <linux/kvm.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "abi.h"

#define AK_ERR_LEN 256

/* Guest memory bounds: one page directory of 2 MiB pages (1 GiB); at least the image base, 2 MiB for the image
 * and the guest stack. */
#define AK_PAGE_2M        0x200000ull
#define AK_MEM_MIN        (4ull << 20)
#define AK_MEM_MAX        (1ull << 30)

/* ---- kvm.c: the process-wide /dev/kvm handle and the kick signal ---- */

struct ak_probe {
  int ok;
  int api_version;
  int sync_regs;          /* KVM_CAP_SYNC_REGS bitmask */
  int immediate_exit;     /* KVM_CAP_IMMEDIATE_EXIT */
  int vcpu_mmap_size;
  int kick_signal;
  char reason[AK_ERR_LEN];
};

/* Opens /dev/kvm once and checks what the engine needs. Cached: later calls return the first answer. */
const struct ak_probe *ak_kvm_probe(void);
int ak_kvm_fd(void);
/* The kvm_run that the kick signal stops when it lands on the calling thread (NULL outside a run). */
void ak_runner_set_current(struct kvm_run *run);

/* ---- the vCPU state a snapshot keeps ---- */

/*
 * x87/SSE state travels as an XSAVE image, not struct kvm_fpu: KVM_SET_FPU only fills the legacy area, and while
 * the guest has not touched SSE yet the XSAVE header marks that state as initial, so the values are dropped at the
 * next entry (measured: XMM registers set before a vCPU's first SSE use read back as zero). The XSAVE image says
 * explicitly (xstate_bv) that x87 and SSE state are present.
 */
#define AK_XSAVE_MXCSR 24
#define AK_XSAVE_XMM 160
#define AK_XSAVE_XSTATE_BV 512
#define AK_XSTATE_X87_SSE 0x3ull

struct ak_cpu {
  struct kvm_regs regs;
  struct kvm_sregs sregs;
  struct kvm_xsave fpu;
};

/* ---- layout.c: page tables, GDT, TSS, and the CPL3 register state ---- */

/* Bytes [0, AK_HOST_AREA) of guest memory as the host sets them up for a guest of mem_size bytes. */
#define AK_HOST_AREA 0x8000u
void ak_layout_host_area(uint8_t area[AK_HOST_AREA], uint64_t mem_size);
/* Long mode, CPL3, IOPL3, entering at rip with the given stack; everything else zero. */
void ak_layout_cpu(struct ak_cpu *cpu, uint64_t rip, uint64_t rsp, uint64_t rdi);
/* A fresh call frame at CPL3 (general registers only: segments, control registers and FPU are left alone). */
void ak_layout_entry_regs(struct kvm_regs *regs, uint64_t rip, uint64_t rsp, const uint64_t args[4]);

/* ---- snapshot.c ---- */

/* Bitmaps of guest pages (bit p = page p) in 64-bit words, the layout KVM's dirty log uses. */
#define AK_PAGE 4096ull
#define AK_BITMAP_WORDS(mem_size) (((mem_size) / AK_PAGE + 63) / 64)

struct ak_snapshot {
  atomic_int refs;        /* the JavaScript handle + every VM made from it */
  int memfd;              /* sealed: nobody may change what the VMs map */
  uint64_t mem_size;
  uint64_t populated;     /* bytes of data copied in (the rest are holes) */
  struct ak_cpu cpu;
  const uint8_t *image;   /* the memfd mapped read-only and shared: what a copying reset copies back */
  uint64_t *data;         /* pages of the memfd that hold data (the others are holes and read as zero) */
};

/* Loads a static ELF image (PT_LOAD segments at their physical addresses) into fresh guest memory. */
struct ak_snapshot *ak_snapshot_from_image(const uint8_t *elf, size_t len, uint64_t mem_size, char *err);
void ak_snapshot_ref(struct ak_snapshot *s);
void ak_snapshot_unref(struct ak_snapshot *s);

/* ---- vm.c ---- */

enum ak_exit_kind {
  AK_EXIT_PORT = 1,       /* `out` on one of abi.h's ports */
  AK_EXIT_FAULT,          /* shutdown exit: a CPU exception at CPL3 (no IDT) */
  AK_EXIT_TIMEOUT,        /* the run's deadline passed */
  AK_EXIT_CANCELLED,      /* ak_vm_kick(AK_STOP_CANCEL) */
  AK_EXIT_UNEXPECTED,     /* any other exit (port I/O elsewhere, MMIO, hlt, entry failure, KVM error) */
};

struct ak_exit {
  enum ak_exit_kind kind;
  uint32_t kvm_reason;    /* kvm_run->exit_reason, or UINT32_MAX when KVM_RUN itself failed */
  uint16_t port;
  uint32_t value;         /* the `out` operand */
  uint64_t rip;
  uint64_t run_ns;        /* time spent in this run, on the runner thread */
  char detail[160];
};

enum ak_stop { AK_STOP_NONE = 0, AK_STOP_CANCEL = 1, AK_STOP_DISPOSE = 2 };

/* What the next KVM_RUN must load first (set on the JS thread while idle, applied by the runner). */
enum {
  AK_PENDING_REGS = 1,
  AK_PENDING_SREGS = 2,
  AK_PENDING_FPU = 4,
};

struct ak_vm {
  int vm_fd, vcpu_fd;
  struct kvm_run *run;
  uint8_t *mem;
  uint64_t mem_size;
  struct ak_snapshot *base;      /* the snapshot whose memfd backs `mem`, and the reset target */

  struct ak_cpu pending;         /* state to load before the next KVM_RUN (see `pending_mask`) */
  unsigned pending_mask;
  int stopped;                   /* after a fault/unexpected exit: cannot resume, only reset or enter */
  int tainted;                   /* had such an exit once: never recycled as a shell */
  int io_pending;                /* last exit was a port `out` that KVM completes on the next KVM_RUN */
  uint64_t io_rip;               /* RIP of that `out` */

  /* Copying resets (vm.c). `dirty` receives KVM's dirty log of the memory slot (NULL: the slot has none, and every
   * reset drops all private pages); the host's own writes are not in it and are recorded beside it. */
  uint64_t *dirty;
  uint64_t *host_dirty;          /* pages the host copied into (ak_vm_host_wrote) since the last reset */
  uint64_t *kept;                /* pages held privately since the last dropping reset */
  uint64_t kept_pages;
  int manual_protect;            /* KVM re-protects logged pages only when asked (KVM_CLEAR_DIRTY_LOG) */
  uint64_t *hot;                 /* written pages left writable: no fault when written again, copied back every reset */
  uint64_t hot_pages;
  uint64_t view_lo, view_hi;     /* guest range handed out as writable views since the last reset (empty: lo == hi) */

  /* Cancellation: the runner thread inside ak_vm_run, and why it must stop. */
  pthread_mutex_t lock;
  int in_run;
  pthread_t thread;
  atomic_int stop;
};

struct ak_vm *ak_vm_create(struct ak_snapshot *snap, char *err);
/* Runs until the next exit or the deadline (CLOCK_MONOTONIC ns, 0 = none). Runner thread only. */
void ak_vm_run(struct ak_vm *vm, uint64_t deadline_ns, struct ak_exit *out);
/* Stops a run in progress (or the next one to start): pthread_kill of the runner -> kvm_run->immediate_exit. */
void ak_vm_kick(struct ak_vm *vm, enum ak_stop why);
/*
 * Back to the snapshot: memory and vCPU state. JS thread, idle VM. Two ways for memory: copying back only the pages
 * written since the last reset (KVM's dirty log + the host's writes), which keeps the VM's private pages and KVM's
 * mappings of everything else, so the next run takes no page faults on what it touched before; or dropping every
 * private page (MADV_DONTNEED), after which each page the guest touches faults again (copy-on-write). A VM copies
 * while the pages it holds privately stay within the copy limit, and drops (releasing them) past it.
 */
int ak_vm_reset(struct ak_vm *vm, char *err);
/* The host copied into [addr, addr + len) of guest memory / handed it out as a writable view: the next reset
 * restores it. JS thread, idle VM, range already checked. */
void ak_vm_host_wrote(struct ak_vm *vm, uint64_t addr, uint64_t len);
void ak_vm_host_viewed(struct ak_vm *vm, uint64_t addr, uint64_t len);
/* Most bytes a VM keeps privately across copying resets (0: every reset drops). */
#define AK_RESET_COPY_DEFAULT (16ull << 20)
/* Most written pages a VM leaves writable (copied back at every reset whether written again or not). */
#define AK_RESET_HOT_PAGES 128
void ak_vm_set_reset_copy_limit(uint64_t bytes);
/* Enter at rip with a fresh stack and up to 4 arguments (rdi, rsi, rdx, rcx). */
void ak_vm_enter(struct ak_vm *vm, uint64_t rip, uint64_t rsp, const uint64_t args[4]);
/* The VM's current memory + vCPU state as a new snapshot. Runner thread (it copies memory). */
struct ak_snapshot *ak_vm_snapshot(struct ak_vm *vm, char *err);
/* Releases the VM: its memory and snapshot at once; its KVM VM and vCPU go to the shell cache if it ended
 * cleanly and there is room, else every fd is closed. Runner thread (closing a VM can take milliseconds). */
void ak_vm_destroy(struct ak_vm *vm);
/* Closes cached shells beyond the cache's size. */
void ak_vm_trim(void);
/* Size of the shell cache (0 turns recycling off); closes shells beyond it. */
#define AK_SHELL_CACHE_DEFAULT 16
#define AK_SHELL_CACHE_MAX 256
void ak_vm_set_shell_cache(int cap);

/* Bounds-checked access to guest memory (guest-physical addresses); 0 on success, -1 if out of range. */
int ak_vm_range_ok(const struct ak_vm *vm, uint64_t addr, uint64_t len);

/* Engine-wide counters (for leak tests and the benchmark). */
struct ak_stats {
  atomic_long vms;
  atomic_long snapshots;
  atomic_long runners;
  atomic_long runners_idle;
  atomic_long shells;       /* cached KVM VM + vCPU pairs (see vm.c) */
  atomic_long resets_copied;
  atomic_long resets_dropped;
  atomic_long pages_restored;   /* pages copied back by copying resets */
  atomic_long slot_reloads;     /* resets that found the host area written and rebuilt KVM's mappings */
};
extern struct ak_stats ak_stats;

/* ---- runner.c: threads that run blocking jobs; each job runs once, then `done` is called on that thread ---- */

struct ak_job {
  void (*work)(struct ak_job *job);
  void (*done)(struct ak_job *job);
  struct ak_job *next;
};

/* Queues a job. 0 on success, -1 if no thread could be started (err says why). */
int ak_runner_submit(struct ak_job *job, char *err);
/* Arms (deadline_ns != 0) or disarms the calling runner thread's timer, which sends it the kick signal.
 * -1 (errno set) if this thread has no timer. */
int ak_runner_arm(uint64_t deadline_ns);

uint64_t ak_now_ns(void);

#endif
