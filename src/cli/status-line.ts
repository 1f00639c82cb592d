/**
 * A live status line at the bottom of a terminal, with ordinary lines printed above it: each
 * print erases the status line, writes the text, and draws the status again, so the status
 * stays in place while the log scrolls. On anything that is not a terminal it draws nothing
 * and the printed lines go out as they are: no escape sequences in a file or a pipe.
 */

/** Where the lines go: a terminal (`isTTY`, `columns`) or anything else. */
export interface StatusOutput {
  write(text: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

/** Move to the first column and erase the line (ECMA-48 CHA and EL). */
const ERASE_LINE = '\r\x1b[2K';

export class StatusLine {
  readonly #out: StatusOutput;
  readonly live: boolean;
  #text = '';
  #shown = false;

  constructor(out: StatusOutput) {
    this.#out = out;
    this.live = out.isTTY === true;
  }

  /** Print `text` (one or more whole lines) above the status line. */
  print(text: string): void {
    if (!this.live) {
      this.#out.write(text);
      return;
    }
    this.#out.write(`${this.#shown ? ERASE_LINE : ''}${text}${this.#render()}`);
  }

  /** Show `text` as the status, in place of the previous one. */
  set(text: string): void {
    this.#text = text;
    if (!this.live) return;
    this.#out.write(`${this.#shown ? ERASE_LINE : ''}${this.#render()}`);
  }

  /** Take the status line away for good (before a final report). */
  clear(): void {
    if (this.live && this.#shown) this.#out.write(ERASE_LINE);
    this.#shown = false;
    this.#text = '';
  }

  #render(): string {
    if (!this.#text) {
      this.#shown = false;
      return '';
    }
    this.#shown = true;
    // A status wider than the terminal would wrap, and erasing one line would leave the rest.
    const width = Math.max(10, (this.#out.columns ?? 80) - 1);
    return this.#text.length > width ? this.#text.slice(0, width) : this.#text;
  }
}

/** Messages per second over roughly the last `windowMs`, from a running count sampled now and then. */
export class RateMeter {
  readonly #windowMs: number;
  readonly #samples: Array<{ at: number; count: number }> = [];

  constructor(windowMs = 2000) {
    this.#windowMs = windowMs;
  }

  /** Record the running `count` at time `at` (ms) and return the rate per second. */
  sample(count: number, at: number): number {
    this.#samples.push({ at, count });
    while (this.#samples.length > 2 && at - this.#samples[1]!.at >= this.#windowMs) this.#samples.shift();
    const first = this.#samples[0]!;
    const elapsed = at - first.at;
    return elapsed > 0 ? ((count - first.count) * 1000) / elapsed : 0;
  }
}
