/*
 * The guest's life: lay out memory, instantiate the module once (the host snapshots right after READY), then
 * serve one call per entry at ak_dispatch_entry. Every exit to the host is an `out` on a port of abi.h with
 * the message area filled in; DONE, TRAP and ABORT are never resumed.
 *
 * Memory map inside the guest (above the image, see abi.h for the rest):
 *   [image end, +heap)         allocator arena (function types, tables)
 *   [lin_lo, lin_hi)           Wasm linear memory, fixed base, room to grow up to its cap
 *   [lin_hi, stack bottom)     guard gap: C stack overruns past the limit land here, not in linear memory
 *   [top - AK_STACK_SIZE, top) stack
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "ak_guest.h"

struct ak_layout ak_layout;

#define ALIGN_UP(x, a) (((x) + (a) - 1) & ~(uintptr_t)((a) - 1))
#define ALIGN_DOWN(x, a) ((x) & ~(uintptr_t)((a) - 1))
#define KIB 1024u
#define MIB (1024u * 1024u)
/* Stack kept free below the limit for the frames between two checks and for reporting the trap. */
#define STACK_MARGIN (64 * KIB)
#define GUARD_GAP (64 * KIB)

#ifdef AK_HARNESS
void ak_harness_out(uint16_t port);
static void ak_out(uint16_t port) { ak_harness_out(port); }
static AK_NORETURN void ak_halt(void) { __builtin_trap(); }
#else
static void ak_out(uint16_t port) {
  /* The memory clobber orders every message write before the exit and every read after it. */
  __asm__ volatile("outb %%al, %%dx" : : "a"(0), "d"(port) : "memory");
}
static AK_NORETURN void ak_halt(void) {
  for (;;) __asm__ volatile("ud2");
}
#endif

/* Every guest -> host message says where linear memory is, so the host never has to remember it. */
static void ak_stamp(struct ak_msg *m) {
  m->abi = AK_ABI_VERSION;
  m->mem_base = ak_mem0 ? (uint64_t)(uintptr_t)ak_mem0->data : 0;
  m->mem_size = ak_mem0 ? ak_mem0->size : 0;
}

int32_t ak_hostcall(uint32_t func, uint32_t nargs, const uint64_t *args) {
  struct ak_msg *m = AK_MSG;
  if (func != AK_HC_FLUSH) ak_output_flush();   /* output written before this call reaches the host first */
  if (nargs > AK_MAX_ARGS) ak_abort("host call with too many arguments");
  m->func = func;
  m->nargs = nargs;
  for (uint32_t i = 0; i < nargs; i++) m->args[i] = args[i];
  m->nresults = 0;
  m->status = 0;
  if (func != AK_HC_FLUSH) m->data_len = 0;
  ak_stamp(m);
  ak_out(AK_PORT_HOSTCALL);
  return m->status;
}

uint64_t ak_host_import(uint32_t index, uint32_t nargs, const uint64_t *args) {
  struct ak_msg *m = AK_MSG;
  ak_hostcall(AK_HC_IMPORT_BASE + index, nargs, args);
  return m->nresults > 0 ? m->results[0] : 0;
}

void ak_define_imported_memory(wasm_rt_memory_t *memory, uint32_t initial_pages, uint32_t max_pages) {
  wasm_rt_allocate_memory(memory, initial_pages, max_pages);
}

void ak_finish(int32_t status, uint32_t nresults, const uint64_t *results) {
  struct ak_msg *m = AK_MSG;
  ak_output_flush();
  if (nresults > AK_MAX_RESULTS) ak_abort("too many results");
  for (uint32_t i = 0; i < nresults; i++) m->results[i] = results[i];
  m->nresults = nresults;
  m->status = status;
  m->data_len = 0;
  ak_stamp(m);
  ak_out(AK_PORT_DONE);
  ak_halt();
}

void ak_trap(int32_t code) {
  struct ak_msg *m = AK_MSG;
  ak_output_flush();
  m->status = code;
  m->nresults = 0;
  m->data_len = 0;
  ak_stamp(m);
  ak_out(AK_PORT_TRAP);
  ak_halt();
}

void ak_abort(const char *message) {
  static int aborting;
  struct ak_msg *m = AK_MSG;
  if (!aborting) {
    aborting = 1;
    ak_output_flush();
  }
  size_t n = strlen(message);
  if (n > AK_DATA_CAP) n = AK_DATA_CAP;
  memcpy(m->data, message, n);
  m->data_len = (uint32_t)n;
  m->status = 0;
  ak_stamp(m);
  ak_out(AK_PORT_ABORT);
  ak_halt();
}

void ak_guest_init(uintptr_t lo, uintptr_t hi, uintptr_t stack_limit) {
  if (hi <= lo) ak_abort("no guest memory left for the heap and linear memory");
  /* The heap holds function types and tables: a thirty-second of memory, between 256 KiB and 4 MiB (or all of
     it, in a tiny guest). */
  uintptr_t heap = ALIGN_DOWN((hi - lo) / 32, 4 * KIB);
  if (heap < 256 * KIB) heap = 256 * KIB;
  if (heap > 4 * MIB) heap = 4 * MIB;
  if (heap > hi - lo) heap = hi - lo;
  ak_layout.heap_lo = lo;
  ak_layout.heap_hi = lo + heap;
  ak_layout.lin_lo = ALIGN_UP(ak_layout.heap_hi, AK_WASM_PAGE);
  ak_layout.lin_hi = ALIGN_DOWN(hi, AK_WASM_PAGE);
  if (ak_layout.lin_hi < ak_layout.lin_lo) ak_layout.lin_hi = ak_layout.lin_lo;   /* no room at all */
  ak_stack_limit = stack_limit;
  ak_heap_init(ak_layout.heap_lo, ak_layout.heap_hi);
  ak_output_reset();

  wasm_rt_init();
  ak_module.instantiate();

  struct ak_msg *m = AK_MSG;
  ak_output_flush();   /* a start function may have written output */
  m->func = 0;
  m->nargs = 2;
#ifdef AK_HARNESS
  m->args[0] = (uint64_t)(uintptr_t)&ak_dispatch;   /* no stack switch in a process */
#else
  m->args[0] = (uint64_t)(uintptr_t)&ak_dispatch_entry;
#endif
  m->args[1] = ak_mem0 ? (uint64_t)ak_mem0->max_pages * AK_WASM_PAGE : 0;
  m->status = 0;
  m->data_len = 0;
  ak_stamp(m);
  ak_out(AK_PORT_READY);
  ak_halt();
}

#ifndef AK_HARNESS
extern char __bss_start[], _end[];

/* Called by _start (entry.S) with the guest memory size from RDI. */
AK_NORETURN void ak_vm_main(uint64_t mem_size) {
  /* The loader zeroes .bss too, but the image must not depend on how it was loaded. */
  memset(__bss_start, 0, (size_t)(_end - __bss_start));
  uintptr_t image_end = ALIGN_UP((uintptr_t)_end, 4 * KIB);
  if (mem_size < image_end + AK_STACK_SIZE + 256 * KIB) ak_abort("guest memory too small for the image and stack");
  uintptr_t stack_bottom = (uintptr_t)mem_size - AK_STACK_SIZE;
  ak_guest_init(image_end, stack_bottom - GUARD_GAP, stack_bottom + STACK_MARGIN);
}
#endif

void ak_dispatch(void) {
  struct ak_msg *m = AK_MSG;
  ak_output_reset();
  switch (m->op) {
    case AK_OP_START:
      if (!ak_module.start) ak_abort("the module exports no _start function");
      ak_module.start();
      ak_finish(0, 0, NULL);

    case AK_OP_INVOKE: {
      uint32_t index = m->func;
      if (index >= ak_module.nexports) ak_abort("invoke: no export with this index");
      const struct ak_export *e = &ak_module.exports[index];
      if (m->nargs != e->nparams) ak_abort("invoke: wrong number of arguments");
      /* Host calls reuse msg->args: keep the arguments on the stack. */
      uint64_t args[AK_MAX_ARGS], results[AK_MAX_RESULTS];
      for (uint32_t i = 0; i < e->nparams; i++) args[i] = m->args[i];
      static uint8_t initialized;   /* part of the snapshot: a fresh call sees 0, a reused instance 1 */
      if (ak_module.initialize && !initialized) {
        initialized = 1;
        ak_module.initialize();
      }
      ak_module.invoke(index, args, results);
      ak_finish(0, e->nresults, results);
    }

    default:
      ak_abort("unknown operation");
  }
}
