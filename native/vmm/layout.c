/*
 * Long mode without a boot: the host writes the GDT, the TSS and identity-mapping page tables into guest memory
 * and loads the control registers itself, so the guest's first instruction already runs in 64-bit mode at CPL3
 * (values measured to work under nested kvm_pvm, see docs/hyperlight-engine.md).
 *
 * Host area (first 32 KiB of guest memory; none of it is writable by the guest):
 *   0x1000 GDT   0x2000 PML4   0x3000 PDPT   0x4000 PD   0x5000 PT (4 KiB pages of the first 2 MiB)   0x7000 TSS
 * The first 2 MiB are mapped with 4 KiB pages so that only the message area (AK_MSG_ADDR, AK_MSG_SIZE) is
 * user-accessible there; the GDT and TSS are supervisor read-only (the CPU reads them), the page tables are not
 * mapped at all (the CPU walks them by physical address) and page 0 stays unmapped so a null pointer faults.
 * Memory from 2 MiB up is mapped with 2 MiB user pages, exactly up to the guest's size: an access past the end
 * is a page fault, hence a shutdown exit, never an MMIO exit to the host.
 */
#include <string.h>

#include "vmm.h"

#define GDT_ADDR  0x1000u
#define PML4_ADDR 0x2000u
#define PDPT_ADDR 0x3000u
#define PD_ADDR   0x4000u
#define PT_ADDR   0x5000u
#define TSS_ADDR  0x7000u
/* The 64-bit TSS (0x68 bytes) is followed by an I/O permission bitmap covering ports 0..0xA7 and its closing
 * 0xff byte. kvm_pvm consults the bitmap even at IOPL 3, so it must allow exactly the ABI's ports. */
#define TSS_IOMAP 0x68u
#define IOMAP_BYTES ((AK_PORT_ABORT / 8) + 1)
#define TSS_LIMIT (TSS_IOMAP + IOMAP_BYTES)

#define PTE_P   0x1ull
#define PTE_W   0x2ull
#define PTE_U   0x4ull
#define PTE_A   0x20ull
#define PTE_D   0x40ull
#define PTE_PS  0x80ull
#define PTE_NX  (1ull << 63)

/* Accessed/dirty are preset so the CPU never writes the tables (they would be copied on write in every VM). */
#define TABLE_FLAGS (PTE_P | PTE_W | PTE_U | PTE_A)
#define HUGE_FLAGS  (PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | PTE_PS)
#define MSG_FLAGS   (PTE_P | PTE_W | PTE_U | PTE_A | PTE_D | PTE_NX)
#define SYS_FLAGS   (PTE_P | PTE_A | PTE_NX)

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b   /* 0x18 | RPL 3 */
#define SEL_UCODE 0x23   /* 0x20 | RPL 3 */
#define SEL_TSS   0x28

#define CR0_VALUE  0x80010033ull   /* PG WP NE ET MP PE */
#define CR4_VALUE  0x620ull        /* OSXMMEXCPT OSFXSR PAE */
#define EFER_VALUE 0xd00ull        /* NXE LMA LME (no SCE: `syscall` is #UD, i.e. a fault) */
#define RFLAGS_CPL3 0x3002ull      /* IOPL 3 (VT-x: `out` allowed; kvm_pvm drops it and uses the I/O bitmap); IF clear */

static void put64(uint8_t *p, uint64_t v) { memcpy(p, &v, 8); }

void ak_layout_host_area(uint8_t area[AK_HOST_AREA], uint64_t mem_size) {
  memset(area, 0, AK_HOST_AREA);

  uint8_t *gdt = area + GDT_ADDR;
  put64(gdt + SEL_KCODE, 0x00af9b000000ffffull);
  put64(gdt + SEL_KDATA, 0x00cf93000000ffffull);
  put64(gdt + 0x18, 0x00cff3000000ffffull);
  put64(gdt + 0x20, 0x00affb000000ffffull);
  uint64_t tss_lo = (TSS_LIMIT & 0xffffull) | ((uint64_t)(TSS_ADDR & 0xffffff) << 16) | (0x8bull << 40) |
                    ((uint64_t)(TSS_ADDR >> 24) << 56);
  put64(gdt + SEL_TSS, tss_lo);
  put64(gdt + SEL_TSS + 8, 0);

  put64(area + PML4_ADDR, PDPT_ADDR | TABLE_FLAGS);
  put64(area + PDPT_ADDR, PD_ADDR | TABLE_FLAGS);
  put64(area + PD_ADDR, PT_ADDR | TABLE_FLAGS);
  for (uint64_t i = 1; i < mem_size / AK_PAGE_2M && i < 512; i++) put64(area + PD_ADDR + i * 8, (i * AK_PAGE_2M) | HUGE_FLAGS);

  uint8_t *pt = area + PT_ADDR;
  put64(pt + (GDT_ADDR >> 12) * 8, GDT_ADDR | SYS_FLAGS);
  put64(pt + (TSS_ADDR >> 12) * 8, TSS_ADDR | SYS_FLAGS);
  for (uint64_t a = AK_MSG_ADDR; a < AK_MSG_ADDR + AK_MSG_SIZE; a += 0x1000) put64(pt + (a >> 12) * 8, a | MSG_FLAGS);

  uint8_t *tss = area + TSS_ADDR;
  uint16_t iomap = TSS_IOMAP;
  memcpy(tss + 0x66, &iomap, 2);
  memset(tss + TSS_IOMAP, 0xff, IOMAP_BYTES + 1);     /* a set bit denies the port */
  for (unsigned port = AK_PORT_READY; port <= AK_PORT_ABORT; port++) tss[TSS_IOMAP + port / 8] &= (uint8_t)~(1u << (port % 8));
}

static void seg(struct kvm_segment *s, uint16_t sel, uint8_t type, uint8_t dpl, int code64) {
  memset(s, 0, sizeof *s);
  s->base = 0;
  s->limit = 0xffffffff;
  s->selector = sel;
  s->type = type;
  s->present = 1;
  s->dpl = dpl;
  s->s = 1;
  s->l = code64 ? 1 : 0;
  s->db = code64 ? 0 : 1;
  s->g = 1;
}

void ak_layout_entry_regs(struct kvm_regs *regs, uint64_t rip, uint64_t rsp, const uint64_t args[4]) {
  memset(regs, 0, sizeof *regs);
  regs->rip = rip;
  regs->rsp = rsp;
  regs->rflags = RFLAGS_CPL3;
  if (args) {
    regs->rdi = args[0];
    regs->rsi = args[1];
    regs->rdx = args[2];
    regs->rcx = args[3];
  }
}

void ak_layout_cpu(struct ak_cpu *cpu, uint64_t rip, uint64_t rsp, uint64_t rdi) {
  memset(cpu, 0, sizeof *cpu);
  uint64_t args[4] = {rdi, 0, 0, 0};
  ak_layout_entry_regs(&cpu->regs, rip, rsp, args);

  struct kvm_sregs *s = &cpu->sregs;
  seg(&s->cs, SEL_UCODE, 0xb, 3, 1);
  seg(&s->ss, SEL_UDATA, 0x3, 3, 0);
  s->ds = s->es = s->fs = s->gs = s->ss;
  memset(&s->tr, 0, sizeof s->tr);
  s->tr.base = TSS_ADDR;
  s->tr.limit = TSS_LIMIT;
  s->tr.selector = SEL_TSS;
  s->tr.type = 0xb;                /* 64-bit TSS, busy */
  s->tr.present = 1;
  memset(&s->ldt, 0, sizeof s->ldt);
  s->ldt.type = 0x2;
  s->ldt.unusable = 1;
  s->gdt.base = GDT_ADDR;
  s->gdt.limit = SEL_TSS + 16 - 1;
  s->idt.base = 0;                 /* no IDT: every exception becomes a triple fault, i.e. a shutdown exit */
  s->idt.limit = 0;
  s->cr0 = CR0_VALUE;
  s->cr3 = PML4_ADDR;
  s->cr4 = CR4_VALUE;
  s->efer = EFER_VALUE;
  s->apic_base = 0xfee00900ull;    /* KVM's default for the boot CPU */

  /* x87 and SSE defaults (what FNINIT and a reset leave), present in the XSAVE header */
  uint8_t *x = (uint8_t *)cpu->fpu.region;
  uint16_t fcw = 0x37f;
  uint32_t mxcsr = 0x1f80;
  uint64_t bv = AK_XSTATE_X87_SSE;
  memcpy(x, &fcw, 2);
  memcpy(x + AK_XSAVE_MXCSR, &mxcsr, 4);
  memcpy(x + AK_XSAVE_XSTATE_BV, &bv, 8);
}
