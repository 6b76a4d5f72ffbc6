/**
 * The engines under test: each is either ready (TEST_IMAGE imported) or skipped with the printed reason. Every
 * test gets its own state directory, so records never leak between tests or into the user's.
 */
import { randomBytes } from 'node:crypto';
import type { ContainerBackend, ContainerBackendOptions } from '../../src/backends/container/backend.js';
import { createDockerBackend } from '../../src/backends/docker/index.js';
import { createPodmanBackend } from '../../src/backends/podman/index.js';
import { ensureTestImage } from '../helpers/images.js';

export { TEST_IMAGE } from '../helpers/images.js';

export interface EngineCase {
  name: 'docker' | 'podman';
  /** false when the engine is ready, else why its tests are skipped */
  skip: string | false;
  make(opts?: ContainerBackendOptions): ContainerBackend;
}

const FACTORIES = { docker: createDockerBackend, podman: createPodmanBackend } as const;

async function prepare(name: 'docker' | 'podman'): Promise<EngineCase> {
  const make = (opts: ContainerBackendOptions = {}) => FACTORIES[name]({ poolSize: 0, ...opts });
  let skip: string | false;
  try {
    skip = (await ensureTestImage(make())) ?? false;
  } catch (e) {
    skip = `${name}: could not build the test image: ${(e as Error).message}`;
  }
  if (skip) console.log(`# skipping ${name} tests: ${skip}`);
  return { name, skip, make };
}

export const ENGINES: EngineCase[] = await Promise.all([prepare('docker'), prepare('podman')]);

export { tempStore, tempDir } from './tmp.js';

/** A sandbox name no other test (or test run) uses. */
export function uniqueName(prefix: string): string {
  return `${prefix}-${process.pid}-${randomBytes(3).toString('hex')}`;
}
