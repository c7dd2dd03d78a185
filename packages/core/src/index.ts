export * from './names.ts';
export * from './errors.ts';
export * from './spec.ts';
export * from './manifest.ts';
export * from './logger.ts';
