/*
 * A static ELF guest image -> a snapshot: fresh guest memory (a memfd) holding the host area (layout.c) and the
 * image's PT_LOAD segments at their physical addresses, and a vCPU about to execute the ELF entry point with
 * RSP = top of memory and RDI = memory size (abi.h). The image is untrusted input: every offset and size is
 * checked before anything is copied, and a segment may only land between AK_IMAGE_BASE and the guest stack.
 */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "snapshot.h"
#include "vmm.h"

#define MAX_SEGMENTS 64

struct segment {
  uint64_t addr, filesz, memsz, offset;
};

static int fail(char *err, const char *what) {
  snprintf(err, AK_ERR_LEN, "invalid guest image: %s", what);
  return -1;
}

/* a + b <= limit without overflow */
static int fits(uint64_t a, uint64_t b, uint64_t limit) { return a <= limit && b <= limit - a; }

static int parse(const uint8_t *elf, size_t len, uint64_t mem_size, struct segment *segs, int *nsegs, uint64_t *entry,
                 char *err) {
  Elf64_Ehdr eh;
  if (len < sizeof eh) return fail(err, "too short for an ELF header");
  memcpy(&eh, elf, sizeof eh);
  if (memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0) return fail(err, "not an ELF file");
  if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_ident[EI_DATA] != ELFDATA2LSB) return fail(err, "not a 64-bit little-endian ELF");
  if (eh.e_type != ET_EXEC) return fail(err, "not a static executable (ET_EXEC)");
  if (eh.e_machine != EM_X86_64) return fail(err, "not an x86-64 executable");
  if (eh.e_phentsize < sizeof(Elf64_Phdr)) return fail(err, "bad program header size");
  if (eh.e_phnum == 0 || eh.e_phnum > 256) return fail(err, "bad program header count");
  if (!fits(eh.e_phoff, (uint64_t)eh.e_phnum * eh.e_phentsize, len)) return fail(err, "program headers past the end of the file");

  uint64_t lo = AK_IMAGE_BASE, hi = mem_size - AK_STACK_SIZE;   /* where segments may go */
  int n = 0;
  for (int i = 0; i < eh.e_phnum; i++) {
    Elf64_Phdr ph;
    memcpy(&ph, elf + eh.e_phoff + (uint64_t)i * eh.e_phentsize, sizeof ph);
    if (ph.p_type == PT_INTERP || ph.p_type == PT_DYNAMIC) return fail(err, "dynamically linked");
    if (ph.p_type != PT_LOAD || ph.p_memsz == 0) continue;
    if (n == MAX_SEGMENTS) return fail(err, "too many loadable segments");
    if (ph.p_filesz > ph.p_memsz) return fail(err, "a segment is larger in the file than in memory");
    if (!fits(ph.p_offset, ph.p_filesz, len)) return fail(err, "a segment's bytes lie past the end of the file");
    if (ph.p_vaddr != ph.p_paddr) return fail(err, "a segment's virtual and physical addresses differ (guest memory is identity-mapped)");
    if (ph.p_paddr < lo || !fits(ph.p_paddr, ph.p_memsz, hi)) {
      snprintf(err, AK_ERR_LEN,
               "invalid guest image: segment 0x%llx..0x%llx lies outside 0x%llx..0x%llx (image base to guest stack)",
               (unsigned long long)ph.p_paddr, (unsigned long long)(ph.p_paddr + ph.p_memsz), (unsigned long long)lo,
               (unsigned long long)hi);
      return -1;
    }
    for (int j = 0; j < n; j++)
      if (ph.p_paddr < segs[j].addr + segs[j].memsz && segs[j].addr < ph.p_paddr + ph.p_memsz)
        return fail(err, "loadable segments overlap");
    segs[n++] = (struct segment){ph.p_paddr, ph.p_filesz, ph.p_memsz, ph.p_offset};
  }
  if (n == 0) return fail(err, "no loadable segments");
  int inside = 0;
  for (int j = 0; j < n; j++) inside |= eh.e_entry >= segs[j].addr && eh.e_entry < segs[j].addr + segs[j].memsz;
  if (!inside) return fail(err, "the entry point lies outside the loadable segments");
  *nsegs = n;
  *entry = eh.e_entry;
  return 0;
}

struct ak_snapshot *ak_snapshot_from_image(const uint8_t *elf, size_t len, uint64_t mem_size, char *err) {
  if (mem_size < AK_MEM_MIN || mem_size > AK_MEM_MAX || mem_size % AK_PAGE_2M != 0) {
    snprintf(err, AK_ERR_LEN, "guest memory must be a multiple of 2 MiB between %llu MiB and %llu MiB",
             (unsigned long long)(AK_MEM_MIN >> 20), (unsigned long long)(AK_MEM_MAX >> 20));
    return NULL;
  }
  struct segment segs[MAX_SEGMENTS];
  int n = 0;
  uint64_t entry = 0;
  if (parse(elf, len, mem_size, segs, &n, &entry, err) != 0) return NULL;

  int fd = ak_memfd_new("agentkernel-image", mem_size, err);
  if (fd < 0) return NULL;
  uint8_t host[AK_HOST_AREA];
  ak_layout_host_area(host, mem_size);
  if (ak_pwrite_all(fd, host, sizeof host, 0, err) != 0) goto fail;
  uint64_t populated = sizeof host;
  for (int j = 0; j < n; j++) {
    if (ak_pwrite_all(fd, elf + segs[j].offset, segs[j].filesz, segs[j].addr, err) != 0) goto fail;
    populated += segs[j].filesz;
  }
  struct ak_cpu cpu;
  ak_layout_cpu(&cpu, entry, mem_size, mem_size);
  struct ak_snapshot *s = ak_snapshot_new(fd, mem_size, &cpu, err);
  if (!s) goto fail;
  s->populated = populated;
  return s;
fail:
  close(fd);
  return NULL;
}
