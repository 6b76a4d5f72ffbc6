/**
 * The TypeScript mirror of native/common/abi.h, the contract between the host and the micro-VM guest. Keep the
 * two in step: test/hyperlight-vmm/abi.test.ts parses abi.h and compares every value here with it, and checks the
 * struct offsets against the ones the C compiler reports through the addon.
 */

export const AK_ABI_VERSION = 1;

/** Guest-physical (== guest-virtual) addresses and sizes. */
export const AK_MSG_ADDR = 0x10000;
export const AK_MSG_SIZE = 0x10000;
export const AK_IMAGE_BASE = 0x200000;
export const AK_STACK_SIZE = 0x100000;

/** I/O ports (guest -> host). */
export const AK_PORT_READY = 0xa0;
export const AK_PORT_HOSTCALL = 0xa1;
export const AK_PORT_DONE = 0xa2;
export const AK_PORT_TRAP = 0xa3;
export const AK_PORT_ABORT = 0xa4;

/** Requests (host -> guest, msg.op at the dispatch entry). */
export const AK_OP_START = 1;
export const AK_OP_INVOKE = 2;

/** Host calls (msg.func with AK_PORT_HOSTCALL). */
export const AK_HC_WASI_BASE = 0x100;
export const AK_HC_FLUSH = 0x1;
/** A non-WASI function import served by the host: msg.func = AK_HC_IMPORT_BASE + host import index. */
export const AK_HC_IMPORT_BASE = 0x1000;

/** Traps (msg.status with AK_PORT_TRAP). */
export const AK_TRAP_UNKNOWN = 0;
export const AK_TRAP_OOB = 1;
export const AK_TRAP_INT_OVERFLOW = 2;
export const AK_TRAP_DIV_BY_ZERO = 3;
export const AK_TRAP_INVALID_CONVERSION = 4;
export const AK_TRAP_UNREACHABLE = 5;
export const AK_TRAP_CALL_INDIRECT = 6;
export const AK_TRAP_STACK_EXHAUSTED = 7;
export const AK_TRAP_NULL_REF = 8;
export const AK_TRAP_OUT_OF_MEMORY = 9;

/** WASI preview1 functions by host-call index: msg.func = AK_HC_WASI_BASE + index (AK_WASI_FUNCS in abi.h). */
export const AK_WASI_FUNCS = [
  'args_get', 'args_sizes_get', 'environ_get', 'environ_sizes_get', 'clock_res_get', 'clock_time_get', 'fd_advise',
  'fd_allocate', 'fd_close', 'fd_datasync', 'fd_fdstat_get', 'fd_fdstat_set_flags', 'fd_fdstat_set_rights',
  'fd_filestat_get', 'fd_filestat_set_size', 'fd_filestat_set_times', 'fd_pread', 'fd_prestat_get',
  'fd_prestat_dir_name', 'fd_pwrite', 'fd_read', 'fd_readdir', 'fd_renumber', 'fd_seek', 'fd_sync', 'fd_tell',
  'fd_write', 'path_create_directory', 'path_filestat_get', 'path_filestat_set_times', 'path_link', 'path_open',
  'path_readlink', 'path_remove_directory', 'path_rename', 'path_symlink', 'path_unlink_file', 'poll_oneoff',
  'proc_exit', 'proc_raise', 'sched_yield', 'random_get', 'sock_accept', 'sock_recv', 'sock_send', 'sock_shutdown',
] as const;
export type WasiFunction = (typeof AK_WASI_FUNCS)[number];
export const AK_WASI_COUNT = AK_WASI_FUNCS.length;

export const AK_MAX_ARGS = 16;
export const AK_MAX_RESULTS = 8;

/** Byte offsets of struct ak_msg's fields (x86-64 System V layout). */
export const MSG = {
  abi: 0,
  op: 4,
  func: 8,
  nargs: 12,
  args: 16,
  results: 16 + 8 * AK_MAX_ARGS,
  nresults: 16 + 8 * AK_MAX_ARGS + 8 * AK_MAX_RESULTS,
  status: 212,
  memBase: 216,
  memSize: 224,
  dataLen: 232,
  reserved: 236,
  data: 240,
} as const;

/** sizeof(struct ak_msg): the header before the data buffer. */
export const MSG_HEADER_SIZE = MSG.data;
/** Bytes msg.data can hold. */
export const MSG_DATA_CAPACITY = AK_MSG_SIZE - MSG_HEADER_SIZE;
/** sizeof(struct ak_out_record): { u32 fd; u32 len; } before each record's bytes in an AK_HC_FLUSH message. */
export const OUT_RECORD_HEADER = 8;

/** The port an exit came through, by name. */
export type PortName = 'ready' | 'hostcall' | 'done' | 'trap' | 'abort';
export const PORT_NAMES: Readonly<Record<number, PortName>> = {
  [AK_PORT_READY]: 'ready',
  [AK_PORT_HOSTCALL]: 'hostcall',
  [AK_PORT_DONE]: 'done',
  [AK_PORT_TRAP]: 'trap',
  [AK_PORT_ABORT]: 'abort',
};
