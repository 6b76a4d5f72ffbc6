/**
 * `sandbox.files`: the sandbox's files. Paths are paths inside the sandbox: relative ones are resolved against its
 * working directory (the wasm backend's is /workspace), absolute ones are taken as they are.
 */
import type { FileEntry } from '../../../core/types.js';
import type { CallOptions, FileReadOptions } from '../../options.js';
import type { Transport } from '../../transport/types.js';

export class Filesystem {
  /** @internal */
  constructor(private readonly transport: Transport, private readonly sandbox: string) {}

  /** A file's content: UTF-8 text, or the raw bytes with `{format: 'bytes'}`. */
  read(path: string, opts?: FileReadOptions & { format?: 'text' }): Promise<string>;
  read(path: string, opts: FileReadOptions & { format: 'bytes' }): Promise<Uint8Array>;
  async read(path: string, opts: FileReadOptions = {}): Promise<string | Uint8Array> {
    const data = await this.transport.readFile(this.sandbox, path, opts);
    return opts.format === 'bytes' ? data : new TextDecoder().decode(data);
  }

  /** Create or replace a file (a string is written as UTF-8). */
  async write(path: string, data: string | Uint8Array, opts: CallOptions = {}): Promise<void> {
    await this.transport.writeFile(this.sandbox, path, typeof data === 'string' ? new TextEncoder().encode(data) : data, opts);
  }

  /** The entries of a directory (by default the working directory). */
  list(path = '.', opts: CallOptions = {}): Promise<FileEntry[]> {
    return this.transport.listFiles(this.sandbox, path, opts);
  }

  /** Remove a file. */
  remove(path: string, opts: CallOptions = {}): Promise<void> {
    return this.transport.removeFile(this.sandbox, path, opts);
  }
}
