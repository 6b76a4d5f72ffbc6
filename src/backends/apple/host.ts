/**
 * Can this machine run Apple Containers at all: macOS 26 or later (the release whose Virtualization and vmnet
 * frameworks the `container` CLI is built for) on Apple silicon. Pure functions of the host facts, so the answer
 * for every kind of host is testable anywhere.
 */
import { arch, platform, release } from 'node:os';

export interface HostFacts {
  platform: NodeJS.Platform | string;
  arch: string;
  /** `uname -r`: the Darwin kernel release on macOS. */
  kernelRelease: string;
}

export const MIN_MACOS = 26;

export function currentHost(): HostFacts {
  return { platform: platform(), arch: arch(), kernelRelease: release() };
}

/**
 * The macOS major version of a Darwin kernel release: Darwin 20-24 are macOS 11-15, and from Darwin 25 on the
 * marketing number follows the year (Darwin 25 is macOS 26).
 */
export function macosMajor(darwinRelease: string): number | undefined {
  const d = Number.parseInt(darwinRelease, 10);
  if (!Number.isInteger(d) || d <= 0) return undefined;
  if (d >= 25) return d + 1;
  if (d >= 20) return d - 9;
  return 10;
}

/** Why Apple Containers cannot run on this host, or undefined when the host itself is fine. */
export function hostProblem(h: HostFacts): string | undefined {
  if (h.platform !== 'darwin') return `requires macOS ${MIN_MACOS} or later (this is ${h.platform})`;
  const major = macosMajor(h.kernelRelease);
  if (major === undefined) return `requires macOS ${MIN_MACOS} or later (cannot tell the macOS version from Darwin ${h.kernelRelease})`;
  if (major < MIN_MACOS) return `requires macOS ${MIN_MACOS} or later (this is macOS ${major}, Darwin ${h.kernelRelease})`;
  if (h.arch !== 'arm64') return `requires a Mac with Apple silicon (this is ${h.arch})`;
  return undefined;
}
