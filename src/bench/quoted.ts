/**
 * Published figures, printed beside the measurements as context. They were NOT measured here: other machines,
 * other methods. Every writer labels them "quoted, not measured here".
 */
import type { QuotedFigure } from './types.js';

export const QUOTED_LABEL = 'quoted, not measured here';

const RFC = "agentkernel's founding RFC (published table)";
const HYPERLIGHT = "Hyperlight's published figures";

export const QUOTED: readonly QuotedFigure[] = [
  { source: RFC, label: 'Firecracker, daemon mode', ms: 195 },
  { source: RFC, label: 'Docker, warm pool', ms: 250 },
  { source: RFC, label: 'Apple Containers', ms: 940 },
  { source: RFC, label: 'Firecracker, ephemeral', ms: 800 },
  { source: HYPERLIGHT, label: 'Python in Wasm, cold start', ms: 144 },
  { source: HYPERLIGHT, label: 'Python in Wasm, restore + run', ms: 1.5 },
  { source: HYPERLIGHT, label: 'JavaScript, cold start', ms: [97, 120] },
  { source: HYPERLIGHT, label: 'JavaScript, restore + run', ms: [0.7, 1.3] },
];
