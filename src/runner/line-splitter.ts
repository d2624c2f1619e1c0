/**
 * Splits a byte stream into text lines with a hard cap on line length, so one endless line
 * (a 10 MB blob, a binary dump) can never make the server buffer it whole. Bytes past the cap
 * are dropped up to the next newline, and the kept part is flagged as truncated.
 * Invalid UTF-8 becomes U+FFFD; NUL characters are removed (PostgreSQL text cannot hold them).
 */
export interface Line {
  readonly text: string;
  readonly truncated: boolean;
}

export class LineSplitter {
  private chunks: Buffer[] = [];
  private size = 0;
  private discarding = false;
  private readonly decoder = new TextDecoder('utf-8', { fatal: false });

  constructor(private readonly maxLineBytes: number) {}

  /** Feeds a chunk; returns the lines it completed. */
  push(chunk: Buffer): Line[] {
    const lines: Line[] = [];
    let start = 0;
    for (let nl = chunk.indexOf(0x0a, start); nl !== -1; nl = chunk.indexOf(0x0a, start)) {
      this.append(chunk.subarray(start, nl));
      lines.push(this.take());
      start = nl + 1;
    }
    this.append(chunk.subarray(start));
    return lines;
  }

  /** The last line when the stream ends without a newline. */
  end(): Line | undefined {
    return this.size > 0 || this.discarding ? this.take() : undefined;
  }

  private append(part: Buffer): void {
    if (part.length === 0 || this.discarding) return;
    const room = this.maxLineBytes - this.size;
    if (part.length > room) {
      this.chunks.push(part.subarray(0, room));
      this.size += room;
      this.discarding = true;
      return;
    }
    this.chunks.push(part);
    this.size += part.length;
  }

  private take(): Line {
    const bytes = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size);
    let text = this.decoder.decode(bytes);
    if (text.endsWith('\r')) text = text.slice(0, -1);
    if (text.includes('\u0000')) text = text.replaceAll('\u0000', '');
    const line = { text, truncated: this.discarding };
    this.chunks = [];
    this.size = 0;
    this.discarding = false;
    return line;
  }
}
