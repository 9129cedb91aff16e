export * from './topology.ts';
export * from './broker.ts';
