/** Thrown by proc_exit: unwinds the guest's stack out of the Wasm call that invoked it. */
export class WasiExit extends Error {
  readonly code: number;

  constructor(code: number) {
    super(`guest exited with code ${code}`);
    this.name = 'WasiExit';
    this.code = code;
  }
}
