// Live build logs across hosts: the build writes its log into a stream queue of its job (writer),
// the frontend reads it from there while the job runs and from the store after (reader).
export * from './stream.ts';
export * from './log-writer.ts';
export * from './log-reader.ts';
