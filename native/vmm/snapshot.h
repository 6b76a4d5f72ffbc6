/* Guest memory files (memfds) and snapshots built from them: snapshot.c. */
#ifndef AK_SNAPSHOT_H
#define AK_SNAPSHOT_H

#include <stddef.h>
#include <stdint.h>

#include "vmm.h"

/* A new memfd of `size` bytes (all holes), close-on-exec and sealable. -1 with err on failure. */
int ak_memfd_new(const char *name, uint64_t size, char *err);
int ak_pwrite_all(int fd, const void *buf, size_t len, uint64_t off, char *err);
/* Seals fd (no write, grow or shrink: VMs map it copy-on-write) and wraps it with one reference; takes fd. */
struct ak_snapshot *ak_snapshot_new(int fd, uint64_t size, const struct ak_cpu *cpu, char *err);
/* A snapshot of `mem` (a MAP_PRIVATE mapping of base's memfd), copying only pages that hold data. */
struct ak_snapshot *ak_snapshot_copy(const uint8_t *mem, const struct ak_snapshot *base, const struct ak_cpu *cpu, char *err);

/* Marks in `bits` (bit p = page p) the pages of [from_page, to_page) that `mem` (a MAP_PRIVATE mapping of a memfd)
 * holds privately: written since they were mapped (/proc/self/pagemap: present and anonymous, or swapped). */
int ak_mark_private(const uint8_t *mem, uint64_t from_page, uint64_t to_page, uint8_t *bits, char *err);

#endif
