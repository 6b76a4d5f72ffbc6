/*
 * Snapshots: guest memory in a sealed memfd + vCPU state, shared by reference count between the JavaScript handle
 * and the VMs mapped from it.
 *
 * Copying a running VM's memory must not read every page: reading a hole through the mapping would allocate it.
 * The pages that hold data are those of the base memfd that are data (SEEK_DATA) plus the VM's private
 * (copy-on-write) pages, which /proc/self/pagemap reports as present-and-anonymous or swapped. Only those are
 * copied; everything else stays a hole in the new memfd and reads as zero, as it does in the VM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "snapshot.h"

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE    (1ull << 61)

struct ak_stats ak_stats;

int ak_memfd_new(const char *name, uint64_t size, char *err) {
  int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
  if (fd < 0) {
    snprintf(err, AK_ERR_LEN, "memfd_create failed: %s", strerror(errno));
    return -1;
  }
  if (ftruncate(fd, (off_t)size) != 0) {
    snprintf(err, AK_ERR_LEN, "cannot size guest memory to %llu bytes: %s", (unsigned long long)size, strerror(errno));
    close(fd);
    return -1;
  }
  return fd;
}

int ak_pwrite_all(int fd, const void *buf, size_t len, uint64_t off, char *err) {
  const uint8_t *p = buf;
  while (len > 0) {
    ssize_t n = pwrite(fd, p, len, (off_t)off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      snprintf(err, AK_ERR_LEN, "writing guest memory failed: %s", n < 0 ? strerror(errno) : "short write");
      return -1;
    }
    p += n;
    off += (uint64_t)n;
    len -= (size_t)n;
  }
  return 0;
}

static void mark(uint8_t *bits, uint64_t from_page, uint64_t to_page) {
  for (uint64_t p = from_page; p < to_page; p++) bits[p >> 3] |= (uint8_t)(1u << (p & 7));
}

static int marked(const uint8_t *bits, uint64_t p) { return bits[p >> 3] >> (p & 7) & 1; }

/* Data ranges of the base memfd. */
static int mark_file_data(int fd, uint64_t size, uint8_t *bits, char *err) {
  off_t pos = 0;
  while ((uint64_t)pos < size) {
    off_t data = lseek(fd, pos, SEEK_DATA);
    if (data < 0) {
      if (errno == ENXIO) return 0;   /* no data past pos */
      snprintf(err, AK_ERR_LEN, "SEEK_DATA on guest memory failed: %s", strerror(errno));
      return -1;
    }
    off_t hole = lseek(fd, data, SEEK_HOLE);
    if (hole < 0) hole = (off_t)size;
    mark(bits, (uint64_t)data / AK_PAGE, ((uint64_t)hole + AK_PAGE - 1) / AK_PAGE);
    pos = hole;
  }
  return 0;
}

struct ak_snapshot *ak_snapshot_new(int fd, uint64_t size, const struct ak_cpu *cpu, char *err) {
  if (fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
    snprintf(err, AK_ERR_LEN, "cannot seal snapshot memory: %s", strerror(errno));
    return NULL;
  }
  struct ak_snapshot *s = calloc(1, sizeof *s);
  uint64_t *data = calloc(AK_BITMAP_WORDS(size), 8);
  if (!s || !data) {
    free(s);
    free(data);
    snprintf(err, AK_ERR_LEN, "out of memory");
    return NULL;
  }
  /* The restore source of copying resets: read-only, and read only where `data` says the memfd holds data (a read
   * fault on a hole of a shared mapping would allocate it). */
  void *image = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
  if (image == MAP_FAILED || mark_file_data(fd, size, (uint8_t *)data, err) != 0) {
    if (image == MAP_FAILED) snprintf(err, AK_ERR_LEN, "cannot map snapshot memory: %s", strerror(errno));
    else munmap(image, size);
    free(s);
    free(data);
    return NULL;
  }
  madvise(image, size, MADV_DONTFORK);
  atomic_init(&s->refs, 1);
  s->memfd = fd;
  s->mem_size = size;
  s->cpu = *cpu;
  s->image = image;
  s->data = data;
  atomic_fetch_add(&ak_stats.snapshots, 1);
  return s;
}

void ak_snapshot_ref(struct ak_snapshot *s) { atomic_fetch_add(&s->refs, 1); }

void ak_snapshot_unref(struct ak_snapshot *s) {
  if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
  munmap((void *)s->image, s->mem_size);
  free(s->data);
  close(s->memfd);
  free(s);
  atomic_fetch_sub(&ak_stats.snapshots, 1);
}

int ak_mark_private(const uint8_t *mem, uint64_t from_page, uint64_t to_page, uint8_t *bits, char *err) {
  int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
  if (pm < 0) {
    snprintf(err, AK_ERR_LEN, "cannot open /proc/self/pagemap: %s", strerror(errno));
    return -1;
  }
  enum { CHUNK = 4096 };
  uint64_t *buf = malloc(CHUNK * sizeof *buf);
  int rc = buf ? 0 : -1;
  if (!buf) snprintf(err, AK_ERR_LEN, "out of memory");
  uint64_t first = (uint64_t)(uintptr_t)mem / AK_PAGE;
  for (uint64_t p = from_page; rc == 0 && p < to_page; p += CHUNK) {
    uint64_t n = to_page - p < CHUNK ? to_page - p : CHUNK;
    ssize_t got = pread(pm, buf, n * 8, (off_t)((first + p) * 8));
    if (got != (ssize_t)(n * 8)) {
      snprintf(err, AK_ERR_LEN, "reading /proc/self/pagemap failed: %s", got < 0 ? strerror(errno) : "short read");
      rc = -1;
      break;
    }
    for (uint64_t i = 0; i < n; i++) {
      uint64_t e = buf[i];
      if (((e & PM_PRESENT) && !(e & PM_FILE)) || (e & PM_SWAPPED)) mark(bits, p + i, p + i + 1);
    }
  }
  free(buf);
  close(pm);
  return rc;
}

struct ak_snapshot *ak_snapshot_copy(const uint8_t *mem, const struct ak_snapshot *base, const struct ak_cpu *cpu, char *err) {
  uint64_t size = base->mem_size, pages = size / AK_PAGE;
  uint8_t *bits = calloc((pages + 7) / 8, 1);
  if (!bits) {
    snprintf(err, AK_ERR_LEN, "out of memory");
    return NULL;
  }
  int fd = -1;
  memcpy(bits, base->data, (pages + 7) / 8);
  if (ak_mark_private(mem, 0, pages, bits, err) != 0) goto fail;
  fd = ak_memfd_new("agentkernel-snapshot", size, err);
  if (fd < 0) goto fail;
  uint64_t populated = 0;
  for (uint64_t p = 0; p < pages;) {
    if (!marked(bits, p)) {
      p++;
      continue;
    }
    uint64_t q = p;
    while (q < pages && marked(bits, q)) q++;
    if (ak_pwrite_all(fd, mem + p * AK_PAGE, (q - p) * AK_PAGE, p * AK_PAGE, err) != 0) goto fail;
    populated += (q - p) * AK_PAGE;
    p = q;
  }
  free(bits);
  bits = NULL;
  struct ak_snapshot *s = ak_snapshot_new(fd, size, cpu, err);
  if (!s) goto fail;
  s->populated = populated;
  return s;
fail:
  free(bits);
  if (fd >= 0) close(fd);
  return NULL;
}
