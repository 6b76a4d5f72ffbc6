/* Freestanding <stdlib.h>: the guest heap (guest/runtime/malloc.c) and abort (reported to the host). */
#ifndef AK_LIBC_STDLIB_H
#define AK_LIBC_STDLIB_H
#include <stddef.h>

void *malloc(size_t n);
void *calloc(size_t count, size_t size);
void *realloc(void *p, size_t n);
void free(void *p);
__attribute__((noreturn)) void abort(void);

#endif
