// A job's build log on the building host (its spool file, stored whole when the build ends), and, as
// it is written, the job's live log on the broker (shared/src/live-log), which every frontend reads.
// The build's own output is capped, so a %post printing without end cannot fill the disk; IMG's own
// lines (the result, the error) are always written.
import { createWriteStream, type WriteStream } from 'node:fs';

export class JobLog {
  private readonly stream: WriteStream;
  private logged = 0;

  /** `tee`: where every piece of text goes too, in the same order (the live log). */
  constructor(path: string, append: boolean, private readonly maxMb: number, private readonly tee?: (text: string) => void) {
    this.stream = createWriteStream(path, { flags: append ? 'a' : 'w', mode: 0o644 });
  }

  get closed(): boolean {
    return this.stream.closed || this.stream.writableEnded;
  }

  /** What earlier attempts wrote (read back from the live log): into the file only, the live log has it. */
  seed(text: string): void {
    if (!this.closed && text) this.stream.write(text);
  }

  /** One of IMG's own lines. */
  write(text: string): void {
    if (this.closed) return;
    this.stream.write(text);
    this.tee?.(text);
  }

  /** The build's output, up to the cap. */
  output(chunk: Buffer): void {
    const max = this.maxMb * 1048576;
    if (this.logged >= max) return;
    this.logged += chunk.length;
    this.write(this.logged < max ? chunk.toString('utf8') : `\n[IMG: the log was cut at ${this.maxMb} MiB; the rest of the build's output is not kept]\n`);
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      if (this.closed) return resolve();
      this.stream.end(() => resolve());
    });
  }
}
