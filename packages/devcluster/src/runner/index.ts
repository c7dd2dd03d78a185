export { startProcessRunner, RUNNER_NODE_NAME, type ProcessRunner, type ProcessRunnerOptions } from './process-runner.ts';
export { projectImages, resolveImage, LOCAL_IMAGES, type ImageMap, type LocalImage } from './images.ts';
export type { ContainerRef } from './pod-worker.ts';
