/*
 * wasm2c's runtime API (wasm-rt.h, wabt 1.0.32) for a guest with no OS. Debian's wasm-rt-impl.c needs mmap,
 * signals and stdio and keeps linear memory in realloc'ed storage that moves when it grows; here linear memory
 * sits at a fixed guest address with room up to its cap (the host reads it in place), and a trap is not a
 * longjmp but the end of the call: it is reported to the host with AK_PORT_TRAP.
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak_guest.h"

uint32_t wasm_rt_call_stack_depth;
uintptr_t ak_stack_limit;
wasm_rt_memory_t *ak_mem0;

void wasm_rt_init(void) {}
bool wasm_rt_is_initialized(void) { return true; }
void wasm_rt_free(void) {}

static int32_t ak_trap_code(wasm_rt_trap_t trap) {
  switch (trap) {
    case WASM_RT_TRAP_OOB: return AK_TRAP_OOB;
    case WASM_RT_TRAP_INT_OVERFLOW: return AK_TRAP_INT_OVERFLOW;
    case WASM_RT_TRAP_DIV_BY_ZERO: return AK_TRAP_DIV_BY_ZERO;
    case WASM_RT_TRAP_INVALID_CONVERSION: return AK_TRAP_INVALID_CONVERSION;
    case WASM_RT_TRAP_UNREACHABLE: return AK_TRAP_UNREACHABLE;
    case WASM_RT_TRAP_CALL_INDIRECT: return AK_TRAP_CALL_INDIRECT;
    case WASM_RT_TRAP_EXHAUSTION: return AK_TRAP_STACK_EXHAUSTED;
    default: return AK_TRAP_UNKNOWN;
  }
}

void wasm_rt_trap(wasm_rt_trap_t trap) {
  ak_trap(ak_trap_code(trap));
}

const char *wasm_rt_strerror(wasm_rt_trap_t trap) {
  switch (trap) {
    case WASM_RT_TRAP_NONE: return "No error";
    case WASM_RT_TRAP_OOB: return "Out-of-bounds access in linear memory or a table";
    case WASM_RT_TRAP_EXHAUSTION: return "Call stack exhausted";
    case WASM_RT_TRAP_INT_OVERFLOW: return "Integer overflow on divide or truncation";
    case WASM_RT_TRAP_DIV_BY_ZERO: return "Integer divide by zero";
    case WASM_RT_TRAP_INVALID_CONVERSION: return "Conversion from NaN to integer";
    case WASM_RT_TRAP_UNREACHABLE: return "Unreachable instruction executed";
    case WASM_RT_TRAP_CALL_INDIRECT: return "Invalid call_indirect";
    case WASM_RT_TRAP_UNCAUGHT_EXCEPTION: return "Uncaught exception";
  }
  return "invalid trap code";
}

/* ---- function types: call_indirect compares the indices returned here ---- */

typedef struct {
  uint32_t nparams, nresults;
  wasm_rt_type_t *types;   /* params then results */
} func_type_t;

static func_type_t *func_types;
static uint32_t func_type_count;

uint32_t wasm_rt_register_func_type(uint32_t nparams, uint32_t nresults, ...) {
  uint32_t n = nparams + nresults;
  wasm_rt_type_t *types = malloc((n ? n : 1) * sizeof *types);
  if (!types) ak_trap(AK_TRAP_OUT_OF_MEMORY);
  va_list ap;
  va_start(ap, nresults);
  for (uint32_t i = 0; i < n; i++) types[i] = (wasm_rt_type_t)va_arg(ap, int);
  va_end(ap);

  for (uint32_t i = 0; i < func_type_count; i++) {
    func_type_t *t = &func_types[i];
    if (t->nparams == nparams && t->nresults == nresults && memcmp(t->types, types, n * sizeof *types) == 0) {
      free(types);
      return i + 1;
    }
  }
  func_type_t *grown = realloc(func_types, (func_type_count + 1) * sizeof *grown);
  if (!grown) ak_trap(AK_TRAP_OUT_OF_MEMORY);
  func_types = grown;
  func_types[func_type_count] = (func_type_t){nparams, nresults, types};
  return ++func_type_count;
}

/* ---- linear memory: one per module, at ak_layout.lin_lo, never moving ---- */

void wasm_rt_allocate_memory(wasm_rt_memory_t *memory, uint32_t initial_pages, uint32_t max_pages) {
  if (ak_mem0) ak_abort("more than one linear memory (multi-memory is not supported)");
  uint64_t room = (ak_layout.lin_hi - ak_layout.lin_lo) / AK_WASM_PAGE;
  if (max_pages > room) max_pages = (uint32_t)room;
  if (max_pages > 65535) max_pages = 65535;   /* wasm_rt_memory_t.size is 32-bit: 4 GiB would wrap to 0 */
  if (initial_pages > max_pages) ak_trap(AK_TRAP_OUT_OF_MEMORY);
  /* No clearing: the host hands over zeroed memory and nothing ever writes past the current size, so pages
     reached by memory.grow are still zero (clearing them would touch, and so commit, every page up front). */
  memory->data = (uint8_t *)ak_layout.lin_lo;
  memory->pages = initial_pages;
  memory->max_pages = max_pages;
  memory->size = initial_pages * AK_WASM_PAGE;
  ak_mem0 = memory;
}

uint32_t wasm_rt_grow_memory(wasm_rt_memory_t *memory, uint32_t delta) {
  uint32_t old_pages = memory->pages;
  uint64_t new_pages = (uint64_t)old_pages + delta;
  if (new_pages > memory->max_pages) return UINT32_MAX;
  memory->pages = (uint32_t)new_pages;
  memory->size = (uint32_t)(new_pages * AK_WASM_PAGE);
  return old_pages;
}

void wasm_rt_free_memory(wasm_rt_memory_t *memory) {
  (void)memory;   /* lives as long as the VM */
}

/* ---- tables ---- */

#define DEFINE_TABLE_OPS(type)                                                                             \
  void wasm_rt_allocate_##type##_table(wasm_rt_##type##_table_t *table, uint32_t elements,                 \
                                       uint32_t max_elements) {                                            \
    table->data = NULL;                                                                                    \
    if (elements) {                                                                                        \
      table->data = calloc(elements, sizeof(wasm_rt_##type##_t));                                          \
      if (!table->data) ak_trap(AK_TRAP_OUT_OF_MEMORY);                                                    \
    }                                                                                                      \
    table->size = elements;                                                                                \
    table->max_size = max_elements;                                                                        \
  }                                                                                                        \
  void wasm_rt_free_##type##_table(wasm_rt_##type##_table_t *table) {                                      \
    free(table->data);                                                                                     \
    table->data = NULL;                                                                                    \
    table->size = 0;                                                                                       \
  }                                                                                                        \
  uint32_t wasm_rt_grow_##type##_table(wasm_rt_##type##_table_t *table, uint32_t delta,                    \
                                       wasm_rt_##type##_t init) {                                          \
    uint32_t old = table->size;                                                                            \
    uint64_t grown = (uint64_t)old + delta;                                                                \
    if (grown > table->max_size) return UINT32_MAX;                                                        \
    if (delta == 0) return old;                                                                            \
    wasm_rt_##type##_t *data = realloc(table->data, grown * sizeof(wasm_rt_##type##_t));                   \
    if (!data) return UINT32_MAX;                                                                          \
    for (uint64_t i = old; i < grown; i++) data[i] = init;                                                 \
    table->data = data;                                                                                    \
    table->size = (uint32_t)grown;                                                                         \
    return old;                                                                                            \
  }

DEFINE_TABLE_OPS(funcref)
DEFINE_TABLE_OPS(externref)
