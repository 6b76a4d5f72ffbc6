/*
 * The guest heap: a first-fit allocator over one arena, with an address-ordered free list that merges
 * neighbours on free. wasm2c's runtime needs it only for function types and tables (small, mostly allocated
 * once at instantiation, before the snapshot), so simplicity wins over speed here. Running out returns NULL:
 * table.grow then fails with -1, and instantiation traps with AK_TRAP_OUT_OF_MEMORY.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ak_guest.h"

typedef struct block {
  struct block *next;   /* next free block (only while free) */
  size_t size;          /* whole block in bytes, header included, multiple of 16 */
} block_t;

#define HDR ((size_t)sizeof(block_t))

static block_t *free_list;   /* address-ordered */

void ak_heap_init(uintptr_t lo, uintptr_t hi) {
  lo = (lo + 15) & ~(uintptr_t)15;
  hi &= ~(uintptr_t)15;
  free_list = NULL;
  if (hi <= lo || hi - lo < 2 * HDR) return;
  free_list = (block_t *)lo;
  free_list->next = NULL;
  free_list->size = hi - lo;
}

void *malloc(size_t n) {
  if (n > SIZE_MAX / 2) return NULL;
  size_t need = (n + HDR + 15) & ~(size_t)15;
  for (block_t **link = &free_list; *link; link = &(*link)->next) {
    block_t *b = *link;
    if (b->size < need) continue;
    if (b->size - need >= 2 * HDR) {          /* split: keep the front free, hand out the tail */
      b->size -= need;
      block_t *taken = (block_t *)((char *)b + b->size);
      taken->size = need;
      return taken + 1;
    }
    *link = b->next;
    return b + 1;
  }
  return NULL;
}

void free(void *p) {
  if (!p) return;
  block_t *b = (block_t *)p - 1;
  block_t *prev = NULL, *cur = free_list;
  while (cur && cur < b) {
    prev = cur;
    cur = cur->next;
  }
  b->next = cur;
  if (cur && (char *)b + b->size == (char *)cur) {       /* merge with the next free block */
    b->size += cur->size;
    b->next = cur->next;
  }
  if (prev && (char *)prev + prev->size == (char *)b) {  /* merge into the previous free block */
    prev->size += b->size;
    prev->next = b->next;
  } else if (prev) {
    prev->next = b;
  } else {
    free_list = b;
  }
}

void *calloc(size_t count, size_t size) {
  if (size && count > SIZE_MAX / size) return NULL;
  size_t n = count * size;
  void *p = malloc(n);
  if (p) memset(p, 0, n);
  return p;
}

void *realloc(void *p, size_t n) {
  if (!p) return malloc(n);
  block_t *b = (block_t *)p - 1;
  size_t have = b->size - HDR;
  if (n <= have) return p;
  void *q = malloc(n);
  if (!q) return NULL;
  memcpy(q, p, have);
  free(p);
  return q;
}
