/*
 * The C library pieces the guest needs: wasm2c's output calls memcpy/memmove/memset (bulk memory, data
 * segments) and gcc emits calls to them for struct copies. String moves use `rep movsb/stosb`, which modern
 * x86-64 cores run at full speed, and which gcc cannot turn back into a call to the function being defined.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <stdlib.h>

#include "ak_guest.h"

void *memcpy(void *restrict dst, const void *restrict src, size_t n) {
  void *d = dst;
  __asm__ volatile("rep movsb" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
  return dst;
}

void *memmove(void *dst, const void *src, size_t n) {
  uintptr_t d = (uintptr_t)dst, s = (uintptr_t)src;
  if (d - s >= n) return memcpy(dst, src, n);   /* no harmful overlap (also covers d < s) */
  /* dst overlaps the tail of src: copy backwards */
  void *de = (char *)dst + n - 1;
  const void *se = (const char *)src + n - 1;
  __asm__ volatile("std\n\trep movsb\n\tcld" : "+D"(de), "+S"(se), "+c"(n) : : "memory");
  return dst;
}

void *memset(void *dst, int c, size_t n) {
  void *d = dst;
  __asm__ volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory");
  return dst;
}

int memcmp(const void *a, const void *b, size_t n) {
  const unsigned char *p = a, *q = b;
  for (size_t i = 0; i < n; i++)
    if (p[i] != q[i]) return p[i] < q[i] ? -1 : 1;
  return 0;
}

size_t strlen(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

void abort(void) {
  ak_abort("abort() called in the guest runtime");
}

void ak_assert_fail(const char *expr, const char *file, int line) {
  (void)file;
  (void)line;
  ak_abort(expr);
}
