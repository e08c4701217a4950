import type { ScanProgress } from '../scan.js';

/**
 * One status line on a terminal (stderr): layers done, bytes read of the total, rate.
 * Redrawn at most ten times a second; cleared when the scan ends.
 */
export class TerminalProgress implements ScanProgress {
  private total = 0;
  private read = 0;
  private layers = 0;
  private done = 0;
  private cached = 0;
  private readonly started = Date.now();
  private lastDraw = 0;

  constructor(private readonly out: NodeJS.WriteStream) {}

  layerStart(e: { size: number; cached: boolean }): void {
    this.layers++;
    if (e.cached) this.cached++;
    else this.total += e.size;
    this.draw();
  }

  bytes(n: number): void {
    this.read += n;
    this.draw();
  }

  layerDone(): void {
    this.done++;
    this.draw(true);
  }

  finish(): void {
    if (this.lastDraw) this.out.write('\r\x1b[K');
  }

  private draw(force = false): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const secs = Math.max((now - this.started) / 1000, 0.001);
    const cached = this.cached ? `, ${this.cached} cached` : '';
    const line = `layers ${this.done}/${this.layers}${cached}  ${mb(this.read)}/${mb(this.total)}  ${mb(this.read / secs)}/s`;
    this.out.write(`\r\x1b[K${line}`);
  }
}

function mb(n: number): string {
  return `${(n / 1e6).toFixed(1)} MB`;
}
