import { sleep } from '../../lib/abort.ts';

/**
 * Spaces out requests to one host by its minimum delay (robots.txt Crawl-delay). Each caller reserves
 * the next free slot before it sleeps, so concurrent workers never bunch up on a slow host.
 */
export class HostGate {
  private readonly delays = new Map<string, number>();
  private readonly nextSlot = new Map<string, number>();

  /** Sets the minimum milliseconds between two request starts to `host`. */
  setDelay(host: string, ms: number): void {
    if (ms > 0) this.delays.set(host, ms);
    else this.delays.delete(host);
  }

  /** Resolves when a request to `host` may start; rejects with the abort reason if the signal fires. */
  async wait(host: string, signal: AbortSignal): Promise<void> {
    const delay = this.delays.get(host);
    if (delay === undefined) return;
    const now = Date.now();
    const slot = Math.max(now, this.nextSlot.get(host) ?? 0);
    this.nextSlot.set(host, slot + delay);
    await sleep(slot - now, signal);
  }
}
