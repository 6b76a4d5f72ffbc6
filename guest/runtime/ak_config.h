/*
 * Settings for wasm-rt.h, included before it in every guest translation unit (compile.ts passes -include).
 *
 * Bounds checks are explicit (no guard pages or signal handlers exist in the VM). Stack exhaustion is detected
 * by the stack pointer instead of a fixed call depth: wasm2c's prologue traps when
 * `++wasm_rt_call_stack_depth > WASM_RT_MAX_CALL_STACK_DEPTH`, so the limit reads as "unbounded" while RSP is
 * above the runtime's stack limit and as 0 below it. Deep recursion then uses the whole guest stack whatever
 * the frame sizes are, and never runs into the memory below it.
 */
#ifndef AK_CONFIG_H
#define AK_CONFIG_H

#include <stdint.h>

#define WASM_RT_MEMCHECK_SIGNAL_HANDLER 0
#define WASM_RT_USE_STACK_DEPTH_COUNT 1

extern uintptr_t ak_stack_limit;

static inline __attribute__((always_inline)) uint32_t ak_call_depth_limit(void) {
  uintptr_t sp;
  __asm__("mov %%rsp, %0" : "=r"(sp));
  return sp > ak_stack_limit ? UINT32_MAX : 0u;
}
#define WASM_RT_MAX_CALL_STACK_DEPTH (ak_call_depth_limit())

#endif
