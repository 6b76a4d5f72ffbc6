/*
 * The contract between the host (native/vmm, src/backends/hyperlight) and the guest (guest/) of the micro-VM.
 * Both sides include this one file; the TypeScript mirror is src/backends/hyperlight/abi.ts (keep them in step,
 * AK_ABI_VERSION guards against a stale guest in the cache).
 *
 * Guest memory map (guest-physical == guest-virtual, identity-mapped with 2 MiB pages, all at CPL3):
 *
 *   0x0000_0000  host-owned structures: GDT, page tables, TSS (written by the host before the first run)
 *   0x0001_0000  struct ak_msg: the shared message area (AK_MSG_SIZE), the only channel between the two sides
 *   0x0020_0000  the guest image (ELF, linked at AK_IMAGE_BASE): code, data, bss
 *   ...          guest heap, Wasm linear memory (placed by the guest, reported in every message)
 *   top - 1 MiB  guest stack (grows down from the top of guest memory)
 *
 * Protocol (all exits are `out` on a port; the host never trusts anything in the message):
 *   1. host loads the image, enters at the ELF entry (RSP = top of memory, RDI = guest memory size);
 *      the guest initialises its runtime (wasm2c instance, data segments) and reports AK_PORT_READY with
 *      msg->args[0] = address of its dispatch entry, msg->args[1] = the most bytes its linear memory may grow to
 *      (nargs = 2; a trap here, e.g. AK_TRAP_OUT_OF_MEMORY, means the module cannot start in this much memory).
 *      The host snapshots memory here.
 *   2. for each call the host resets memory to the snapshot, fills msg (op = AK_OP_START or AK_OP_INVOKE),
 *      and enters at the dispatch entry with a fresh stack.
 *   3. the guest makes host calls with AK_PORT_HOSTCALL (msg->func = AK_HC_*, args in msg->args, guest output in
 *      msg->data); the host writes msg->status / msg->results and resumes after the `out`.
 *   4. the guest ends with AK_PORT_DONE (status = exit code, results for invoke) or AK_PORT_TRAP
 *      (status = AK_TRAP_*). Any CPU exception arrives at the host as a shutdown exit (no IDT): a trap too.
 */
#ifndef AGENTKERNEL_ABI_H
#define AGENTKERNEL_ABI_H

#include <stdint.h>

#define AK_ABI_VERSION 1u

#define AK_MSG_ADDR   0x10000ull
#define AK_MSG_SIZE   0x10000ull          /* 64 KiB: header + data buffer */
#define AK_IMAGE_BASE 0x200000ull
#define AK_STACK_SIZE 0x100000ull

/* I/O ports (guest -> host) */
#define AK_PORT_READY    0xA0
#define AK_PORT_HOSTCALL 0xA1
#define AK_PORT_DONE     0xA2
#define AK_PORT_TRAP     0xA3
#define AK_PORT_ABORT    0xA4   /* guest runtime bug: msg->data holds a message */

/* Requests (host -> guest, msg->op at dispatch entry) */
#define AK_OP_START  1u         /* run the WASI command's _start */
#define AK_OP_INVOKE 2u         /* call export msg->func with msg->args */

/* Host calls (msg->func with AK_PORT_HOSTCALL). WASI preview1 functions are numbered by AK_WASI_FUNCS. */
#define AK_HC_WASI_BASE 0x100u
#define AK_HC_FLUSH     0x1u    /* msg->data: buffered output records (see struct ak_out_record) */
/* A function the module imports from a module other than WASI, served by the host: msg->func = AK_HC_IMPORT_BASE +
 * the import's index among the module's host imports (the order compile.ts lists them). Arguments in msg->args as
 * raw bits (i32 zero-extended, i64 as is, f32/f64 as IEEE bits, pointers are linear-memory offsets); the host puts
 * the result's raw bits in msg->results[0] (nresults = 1) or nothing for a function without one. */
#define AK_HC_IMPORT_BASE 0x1000u

/* Traps (msg->status with AK_PORT_TRAP) — mirrors wasm2c's wasm_rt_trap_t where it has one */
#define AK_TRAP_UNKNOWN          0
#define AK_TRAP_OOB              1
#define AK_TRAP_INT_OVERFLOW     2
#define AK_TRAP_DIV_BY_ZERO      3
#define AK_TRAP_INVALID_CONVERSION 4
#define AK_TRAP_UNREACHABLE      5
#define AK_TRAP_CALL_INDIRECT    6
#define AK_TRAP_STACK_EXHAUSTED  7
#define AK_TRAP_NULL_REF         8
#define AK_TRAP_OUT_OF_MEMORY    9

/*
 * WASI preview1 functions, numbered for host calls: msg->func = AK_HC_WASI_BASE + index. Arguments go in msg->args
 * in the order of the WASI signature (i32 zero-extended, i64 as is; pointers are offsets into Wasm linear memory,
 * which the host reads and writes through mem_base/mem_size); the host returns the WASI errno in msg->status.
 * The guest serves fd_write to fds 1 and 2 itself (buffered output, see AK_HC_FLUSH) until the program closes or
 * renumbers those fds, and ends proc_exit itself with AK_PORT_DONE (status = exit code): neither normally reaches
 * the host. The TypeScript mirror (abi.ts) must list the same names at the same indices.
 */
#define AK_WASI_FUNCS(X) \
  X(0, args_get) X(1, args_sizes_get) X(2, environ_get) X(3, environ_sizes_get) X(4, clock_res_get) \
  X(5, clock_time_get) X(6, fd_advise) X(7, fd_allocate) X(8, fd_close) X(9, fd_datasync) X(10, fd_fdstat_get) \
  X(11, fd_fdstat_set_flags) X(12, fd_fdstat_set_rights) X(13, fd_filestat_get) X(14, fd_filestat_set_size) \
  X(15, fd_filestat_set_times) X(16, fd_pread) X(17, fd_prestat_get) X(18, fd_prestat_dir_name) X(19, fd_pwrite) \
  X(20, fd_read) X(21, fd_readdir) X(22, fd_renumber) X(23, fd_seek) X(24, fd_sync) X(25, fd_tell) \
  X(26, fd_write) X(27, path_create_directory) X(28, path_filestat_get) X(29, path_filestat_set_times) \
  X(30, path_link) X(31, path_open) X(32, path_readlink) X(33, path_remove_directory) X(34, path_rename) \
  X(35, path_symlink) X(36, path_unlink_file) X(37, poll_oneoff) X(38, proc_exit) X(39, proc_raise) \
  X(40, sched_yield) X(41, random_get) X(42, sock_accept) X(43, sock_recv) X(44, sock_send) X(45, sock_shutdown)
#define AK_WASI_COUNT 46u

#define AK_MAX_ARGS 16
#define AK_MAX_RESULTS 8

struct ak_msg {
  uint32_t abi;            /* AK_ABI_VERSION, written by both sides */
  uint32_t op;             /* AK_OP_* (host -> guest) */
  uint32_t func;           /* AK_HC_* (guest -> host) or export index (AK_OP_INVOKE) */
  uint32_t nargs;
  uint64_t args[AK_MAX_ARGS];       /* i32 zero-extended, i64, f32/f64 as raw bits */
  uint64_t results[AK_MAX_RESULTS];
  uint32_t nresults;
  int32_t  status;         /* errno of a host call, exit code (DONE), trap code (TRAP) */
  uint64_t mem_base;       /* guest-physical address of Wasm linear memory, in every guest -> host message */
  uint64_t mem_size;       /* its current size in bytes */
  uint32_t data_len;       /* bytes used in data[] */
  uint32_t reserved;
  uint8_t  data[];         /* up to AK_MSG_SIZE - sizeof(struct ak_msg) */
};

/* Buffered guest output, packed in msg->data for AK_HC_FLUSH: repeated { u32 fd; u32 len; u8 bytes[len] }, no
 * padding between records (headers may be unaligned). */
struct ak_out_record {
  uint32_t fd;
  uint32_t len;
};

#endif
