/**
 * One output stream of a supervised agent (issue 13), read from the file the agent writes it to:
 * from the file's first byte, as the file grows, until `finish()` says no writer is left, then to
 * its end. Pull-based, so backpressure is the reader's: a consumer that stops reading stops the
 * reads (the agent never blocks on its output; the file takes it).
 */
import { open, type FileHandle } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** How often a tail that reached the file's end looks again while the agent may still write. */
const POLL_MS = 100;
const READ_BYTES = 64 * 1024;

export class FileTail extends Readable {
  private file: FileHandle | null = null;
  private position = 0;
  private ending = false;
  private reading = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly path: string) {
    super({ highWaterMark: READ_BYTES });
  }

  /** Bytes read so far. */
  get bytesRead(): number {
    return this.position;
  }

  /** No process writes the file any more: read what is left, then end. */
  finish(): void {
    this.ending = true;
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
      void this.pull();
    }
  }

  override _read(): void {
    void this.pull();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const file = this.file;
    this.file = null;
    void (file ? file.close().catch(() => undefined) : Promise.resolve()).then(() => callback(error));
  }

  private async pull(): Promise<void> {
    if (this.reading || this.destroyed) return;
    this.reading = true;
    try {
      this.file ??= await open(this.path, 'r');
      const buffer = Buffer.allocUnsafe(READ_BYTES);
      const { bytesRead } = await this.file.read(buffer, 0, READ_BYTES, this.position);
      if (this.destroyed) return;
      this.reading = false;
      if (bytesRead > 0) {
        this.position += bytesRead;
        this.push(buffer.subarray(0, bytesRead)); // asks for more through _read while it wants it
        return;
      }
      if (this.ending) {
        this.push(null);
        return;
      }
      this.timer = setTimeout(() => {
        this.timer = null;
        void this.pull();
      }, POLL_MS);
    } catch (error) {
      this.reading = false;
      this.destroy(error as Error);
    }
  }
}
