/**
 * Emscripten imports of the QuickJS guest answered by the host (AK_HC_IMPORT_BASE + index): what the Emscripten
 * glue does for them, on the guest's linear memory. The clock and the time zone are the host's, as in the `wasm`
 * backend, whose glue answers the same imports in-process.
 */
import type { AkMessage, GuestLinearMemory } from '../vmm.js';
import type { ImportRole } from './emscripten.js';

export interface ImportAnswer {
  /** Raw result bits (none for a function without a result). */
  results?: bigint[];
  /** The import ends the call (Emscripten's proc_exit). */
  end?: { status: number };
  /** QuickJS aborted: the message. */
  abort?: string;
}

const f64Bits = (v: number): bigint => new BigUint64Array(new Float64Array([v]).buffer)[0]!;

/** A NUL-terminated string in linear memory, read at most `max` bytes far. */
function cString(mem: GuestLinearMemory, ptr: number, max = 4096): string {
  if (!ptr) return '';
  const len = Math.min(max, mem.size - ptr);
  if (len <= 0) return '';
  const bytes = mem.read(ptr, len);
  const end = bytes.indexOf(0);
  return bytes.subarray(0, end < 0 ? len : end).toString('utf8');
}

function writeCString(mem: GuestLinearMemory, ptr: number, text: string, max: number): void {
  const bytes = Buffer.from(text, 'utf8').subarray(0, max - 1);
  mem.write(ptr, Buffer.concat([bytes, Buffer.alloc(1)]));
}

const CUMULATIVE = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
const CUMULATIVE_LEAP = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335];

/** _localtime_js(time, tm): struct tm of the host's local time, as Emscripten's glue fills it. */
function localtime(mem: GuestLinearMemory, time: bigint, tm: number): void {
  const t = time < -9007199254740992n || time > 9007199254740992n ? NaN : Number(BigInt.asIntN(64, time));
  const d = new Date(t * 1000);
  const y = d.getFullYear();
  const leap = y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0);
  const summer = new Date(y, 6, 1).getTimezoneOffset();
  const winter = new Date(y, 0, 1).getTimezoneOffset();
  const fields = [
    d.getSeconds(), d.getMinutes(), d.getHours(), d.getDate(), d.getMonth(), y - 1900, d.getDay(),
    ((leap ? CUMULATIVE_LEAP : CUMULATIVE)[d.getMonth()]! + d.getDate() - 1) | 0,
    Number(summer !== winter && d.getTimezoneOffset() === Math.min(winter, summer)),
    -(60 * d.getTimezoneOffset()),
  ];
  const b = Buffer.alloc(40);
  fields.forEach((v, i) => b.writeInt32LE(Number.isFinite(v) ? v | 0 : 0, i * 4));
  mem.write(tm, b);
}

/** _tzset_js(timezone, daylight, std_name, dst_name), as Emscripten's glue. */
function tzset(mem: GuestLinearMemory, timezone: number, daylight: number, stdName: number, dstName: number): void {
  const y = new Date().getFullYear();
  const winter = new Date(y, 0, 1).getTimezoneOffset();
  const summer = new Date(y, 6, 1).getTimezoneOffset();
  mem.writeU32(timezone, 60 * Math.max(winter, summer));
  mem.writeU32(daylight, Number(winter !== summer));
  const name = (offset: number) => {
    const m = Math.abs(offset);
    return `UTC${offset >= 0 ? '-' : '+'}${String(Math.floor(m / 60)).padStart(2, '0')}${String(m % 60).padStart(2, '0')}`;
  };
  const [w, s] = [name(winter), name(summer)];
  if (summer < winter) {
    writeCString(mem, stdName, w, 17);
    writeCString(mem, dstName, s, 17);
  } else {
    writeCString(mem, stdName, s, 17);
    writeCString(mem, dstName, w, 17);
  }
}

/** Answers one host import of the QuickJS guest. */
export function serveHostImport(role: ImportRole, msg: AkMessage, memory: () => GuestLinearMemory): ImportAnswer {
  const a = msg.args.map((v) => Number(BigInt.asUintN(32, v)));
  switch (role) {
    case 'date_now':
      return { results: [f64Bits(Date.now())] };
    case 'localtime':
      localtime(memory(), msg.args[0] ?? 0n, a[1] ?? 0);
      return {};
    case 'tzset':
      tzset(memory(), a[0]!, a[1]!, a[2]!, a[3]!);
      return {};
    case 'proc_exit':
      return { end: { status: a[0] ?? 0 } };
    case 'abort':
      return { abort: 'Aborted()' };
    case 'assert_fail': {
      const mem = memory();
      return { abort: `Aborted(Assertion failed: ${cString(mem, a[0]!)}, at: ${[a[1] ? cString(mem, a[1]) : 'unknown filename', a[2], a[3] ? cString(mem, a[3]) : 'unknown function'].join(',')})` };
    }
    // no module loader, no Emscripten timers: never called by QuickJS as the prelude uses it
    case 'set_timeout':
    case 'normalize_module':
    case 'load_module_source':
      return { results: [0n] };
    default:
      return { abort: `the guest called ${role} on the host, which it serves itself` };
  }
}
