/**
 * The guest side of a JavaScript session's tools, the same in every interpreter that runs sessions (the wasm
 * backend's QuickJS, the micro-VM's): a function of the host object ({ callTool(name, argsJson) -> answerJson }) and
 * the tool names (JSON) that installs `globalThis.tools` and `ToolError` for a call.
 */
/** Installs `globalThis.tools` for a call: one function per registered tool, throwing ToolError on failure. */
export const TOOLS_SOURCE = String.raw`(function (host, namesJson) {
'use strict';
const call = host.callTool;
class ToolError extends Error {}
Object.defineProperty(ToolError.prototype, 'name', { value: 'ToolError' });
const tools = Object.create(null);
for (const name of JSON.parse(namesJson)) {
  tools[name] = function (args) {
    const answer = JSON.parse(call(name, JSON.stringify(args === undefined ? {} : args)));
    if (!answer.ok) throw new ToolError(answer.error);
    return JSON.parse(answer.json);
  };
}
const define = (k, v) => Object.defineProperty(globalThis, k, { value: v, writable: true, configurable: true, enumerable: false });
define('tools', Object.freeze(tools));
define('ToolError', ToolError);
})`;
