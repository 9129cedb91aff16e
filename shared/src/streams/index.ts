// Streams shared by the services and the CLI.
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';

/** A pass-through that counts and hashes (SHA-256) what goes through it; read `bytes` and `sha256()` once it has ended. */
export interface Meter extends Transform {
  readonly bytes: number;
  /** The hex SHA-256 of everything that went through: call once, after the stream ended. */
  sha256(): string;
}

/** A counting, hashing pass-through; `onChunk` hears the running total after each chunk. */
export function meter(onChunk?: (bytes: number) => void): Meter {
  const hash = createHash('sha256');
  let bytes = 0;
  const t = new Transform({
    transform(chunk: Buffer, _enc, cb) {
      hash.update(chunk);
      bytes += chunk.length;
      onChunk?.(bytes);
      cb(null, chunk);
    },
  });
  return Object.defineProperties(t, {
    bytes: { get: () => bytes },
    sha256: { value: () => hash.digest('hex') },
  }) as Meter;
}
