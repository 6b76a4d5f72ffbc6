/**
 * A session's tool calls from an interpreter in the micro-VM, as two host calls (both interpreters' drivers make
 * them the same way): tool_call(name, name_len, args, args_len, buf, cap) asks the host's tool and returns the
 * answer's length, written into buf when it fits; tool_result(buf, len) hands over a longer one. The answer is the
 * runner's JSON ({ok, json} or {ok: false, error}); without tools (plain runs) every call is answered "no tools".
 */
import type { ToolHost } from '../../../core/types.js';
import { toolAnswer } from '../../../runtimes/session.js';
import type { AkMessage, MicroVm } from '../vmm.js';

/** The longest tool answer a guest is given. */
const MAX_TOOL_ANSWER = 16 * 1024 * 1024;

export function toolCalls(vm: MicroVm, tools: ToolHost | undefined) {
  let pending: Buffer | undefined;
  return async (which: 'tool_call' | 'tool_result', msg: AkMessage): Promise<bigint[]> => {
    const mem = vm.linearMemory(msg);
    const a = msg.args.map((v) => Number(BigInt.asUintN(32, v)));
    if (which === 'tool_result') {
      if (!pending || a[1] !== pending.length) return [0n];
      mem.write(a[0]!, pending);
      const n = pending.length;
      pending = undefined;
      return [BigInt(n)];
    }
    const name = mem.read(a[0]!, Math.min(a[1]!, 4096)).toString('utf8');
    const argsJson = mem.read(a[2]!, Math.min(a[3]!, MAX_TOOL_ANSWER)).toString('utf8');
    let answer: string;
    if (!tools) {
      answer = toolAnswer({ error: 'no tools are available here' });
    } else {
      try {
        answer = toolAnswer({ json: await tools.call(name, argsJson) });
      } catch (e) {
        answer = toolAnswer({ error: e instanceof Error ? e.message : String(e) });
      }
    }
    let bytes = Buffer.from(answer, 'utf8');
    if (bytes.length > MAX_TOOL_ANSWER) bytes = Buffer.from(toolAnswer({ error: `the tool's answer is larger than ${MAX_TOOL_ANSWER} bytes` }));
    if (bytes.length <= a[5]!) mem.write(a[4]!, bytes);
    else pending = bytes;
    return [BigInt(bytes.length)];
  };
}
