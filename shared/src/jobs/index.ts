export * from './job.ts';
export * from './job-store.ts';
export * from './mongo-job-store.ts';
export * from './doc-lock.ts';
export * from './job-token.ts';
export * from './job-check.ts';
export * from './public-view.ts';
export * from './message-seal.ts';
