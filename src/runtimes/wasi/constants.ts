/**
 * Numbers fixed by the wasi_snapshot_preview1 specification (witx). Kept in one place so the host-call bridge of
 * the micro-VM and the V8 executor agree with the implementation byte for byte.
 */

/** errno names in spec order: the index is the errno value (ERRNO.FAULT === 21, ERRNO.NOTCAPABLE === 76). */
const ERRNO_NAMES = [
  'SUCCESS', '2BIG', 'ACCES', 'ADDRINUSE', 'ADDRNOTAVAIL', 'AFNOSUPPORT', 'AGAIN', 'ALREADY', 'BADF', 'BADMSG',
  'BUSY', 'CANCELED', 'CHILD', 'CONNABORTED', 'CONNREFUSED', 'CONNRESET', 'DEADLK', 'DESTADDRREQ', 'DOM', 'DQUOT',
  'EXIST', 'FAULT', 'FBIG', 'HOSTUNREACH', 'IDRM', 'ILSEQ', 'INPROGRESS', 'INTR', 'INVAL', 'IO', 'ISCONN', 'ISDIR',
  'LOOP', 'MFILE', 'MLINK', 'MSGSIZE', 'MULTIHOP', 'NAMETOOLONG', 'NETDOWN', 'NETRESET', 'NETUNREACH', 'NFILE',
  'NOBUFS', 'NODEV', 'NOENT', 'NOEXEC', 'NOLCK', 'NOLINK', 'NOMEM', 'NOMSG', 'NOPROTOOPT', 'NOSPC', 'NOSYS',
  'NOTCONN', 'NOTDIR', 'NOTEMPTY', 'NOTRECOVERABLE', 'NOTSOCK', 'NOTSUP', 'NOTTY', 'NXIO', 'OVERFLOW', 'OWNERDEAD',
  'PERM', 'PIPE', 'PROTO', 'PROTONOSUPPORT', 'PROTOTYPE', 'RANGE', 'ROFS', 'SPIPE', 'SRCH', 'STALE', 'TIMEDOUT',
  'TXTBSY', 'XDEV', 'NOTCAPABLE',
] as const;

export type ErrnoName = (typeof ERRNO_NAMES)[number];

export const ERRNO = Object.freeze(Object.fromEntries(ERRNO_NAMES.map((n, i) => [n, i]))) as Readonly<Record<ErrnoName, number>>;

/** Host error codes that are not spelled 'E' + a WASI name. */
const HOST_ALIASES: Record<string, ErrnoName> = { EWOULDBLOCK: 'AGAIN', EOPNOTSUPP: 'NOTSUP', EDEADLOCK: 'DEADLK' };

/**
 * Maps a Node.js error code to a WASI errno: system codes ('ENOENT') by name, Node's own argument checks
 * ('ERR_OUT_OF_RANGE': an offset past 2^53...) to EINVAL, anything unknown to EIO.
 */
export function errnoFromHostCode(code: string | undefined): number {
  if (!code) return ERRNO.IO;
  if (code.startsWith('ERR_')) return ERRNO.INVAL;
  const alias = HOST_ALIASES[code];
  if (alias) return ERRNO[alias];
  const n = (ERRNO as Record<string, number>)[code.startsWith('E') ? code.slice(1) : code];
  return n === undefined || n === 0 ? ERRNO.IO : n;
}

/** Rights bits, in spec order (bit i). */
const RIGHT_NAMES = [
  'FD_DATASYNC', 'FD_READ', 'FD_SEEK', 'FD_FDSTAT_SET_FLAGS', 'FD_SYNC', 'FD_TELL', 'FD_WRITE', 'FD_ADVISE',
  'FD_ALLOCATE', 'PATH_CREATE_DIRECTORY', 'PATH_CREATE_FILE', 'PATH_LINK_SOURCE', 'PATH_LINK_TARGET', 'PATH_OPEN',
  'FD_READDIR', 'PATH_READLINK', 'PATH_RENAME_SOURCE', 'PATH_RENAME_TARGET', 'PATH_FILESTAT_GET',
  'PATH_FILESTAT_SET_SIZE', 'PATH_FILESTAT_SET_TIMES', 'FD_FILESTAT_GET', 'FD_FILESTAT_SET_SIZE',
  'FD_FILESTAT_SET_TIMES', 'PATH_SYMLINK', 'PATH_REMOVE_DIRECTORY', 'PATH_UNLINK_FILE', 'POLL_FD_READWRITE',
  'SOCK_SHUTDOWN', 'SOCK_ACCEPT',
] as const;

export type RightName = (typeof RIGHT_NAMES)[number];

export const RIGHTS = Object.freeze(Object.fromEntries(RIGHT_NAMES.map((n, i) => [n, 1n << BigInt(i)]))) as Readonly<Record<RightName, bigint>>;

export const ALL_RIGHTS = (1n << BigInt(RIGHT_NAMES.length)) - 1n;

/** Rights that need the file opened for writing on the host (what wasi-libc leaves out of an O_RDONLY open). */
export const WRITE_RIGHTS = RIGHTS.FD_WRITE | RIGHTS.FD_ALLOCATE | RIGHTS.FD_FILESTAT_SET_SIZE;
export const READ_RIGHTS = RIGHTS.FD_READ | RIGHTS.FD_READDIR;

/** Rights of the standard streams: no seek/tell (they are pipes), read on stdin only, write on stdout/stderr only. */
const STREAM_RIGHTS = RIGHTS.FD_FDSTAT_SET_FLAGS | RIGHTS.FD_FILESTAT_GET | RIGHTS.POLL_FD_READWRITE | RIGHTS.FD_SYNC | RIGHTS.FD_DATASYNC;
export const STDIN_RIGHTS = STREAM_RIGHTS | RIGHTS.FD_READ;
export const STDOUT_RIGHTS = STREAM_RIGHTS | RIGHTS.FD_WRITE;

export const FILETYPE = {
  UNKNOWN: 0,
  BLOCK_DEVICE: 1,
  CHARACTER_DEVICE: 2,
  DIRECTORY: 3,
  REGULAR_FILE: 4,
  SOCKET_DGRAM: 5,
  SOCKET_STREAM: 6,
  SYMBOLIC_LINK: 7,
} as const;

export const FDFLAGS = { APPEND: 1, DSYNC: 2, NONBLOCK: 4, RSYNC: 8, SYNC: 16 } as const;
export const OFLAGS = { CREAT: 1, DIRECTORY: 2, EXCL: 4, TRUNC: 8 } as const;
export const LOOKUP_SYMLINK_FOLLOW = 1;
export const FSTFLAGS = { ATIM: 1, ATIM_NOW: 2, MTIM: 4, MTIM_NOW: 8 } as const;
export const CLOCK = { REALTIME: 0, MONOTONIC: 1, PROCESS_CPUTIME_ID: 2, THREAD_CPUTIME_ID: 3 } as const;
export const WHENCE = { SET: 0, CUR: 1, END: 2 } as const;
export const EVENTTYPE = { CLOCK: 0, FD_READ: 1, FD_WRITE: 2 } as const;
export const SUBCLOCKFLAGS_ABSTIME = 1;
export const PREOPENTYPE_DIR = 0;
export const ADVICE_MAX = 5;

/** Struct sizes (bytes) from the witx layout. */
export const SIZE = { IOVEC: 8, FDSTAT: 24, FILESTAT: 64, PRESTAT: 8, DIRENT: 24, SUBSCRIPTION: 48, EVENT: 32 } as const;
