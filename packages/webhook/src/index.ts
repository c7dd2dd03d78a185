export * from './app.ts';
export * from './metrics.ts';
export * from './review.ts';
export * from './server.ts';
export * from './tls.ts';
