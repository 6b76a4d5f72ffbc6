/** The container engine driver shared by the docker, podman and apple backends. */
export { ContainerBackend, containerNameFor, SANDBOX_LABEL, type ContainerBackendOptions, type ContainerRunOptions, type ContainerSandboxSpec } from './backend.js';
export { ContainerEngine, type EngineName, type EngineProfile } from './engine.js';
export { DOCKER_DIALECT, type EngineDialect, type PlanGap } from './dialect.js';
export { detectImage, ensureImage, DEFAULT_IMAGE, type ImageChoice } from './images.js';
export { planContainer, securityArgs, NON_ROOT_USER, type ContainerPlan, type PlanInput, type RunArgsOptions } from './plan.js';
export { ContainerPool, POOL_LABEL, type Lease, type PoolDriver } from './pool.js';
export { validateImageRef, validateGuestPath, validateEnv, validateMounts, validateArgv } from './validate.js';
export type { Applied } from './applied.js';
