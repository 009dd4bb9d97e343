// A fan-out member's socket when it subscribed over HTTP (Yoga's SSE, "distinct connections" mode of
// graphql-sse): the group's payload framed as `event: next`, the frames of one event encoded once for
// every SSE subscriber of the group, a bounded queue in front of the response, one keep-alive timer
// for all of them.
import type { ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Sink } from './member.ts';

const OPEN = 1;
const CLOSED = 3;
const encoder = new TextEncoder();
const PING = encoder.encode(':\n\n');
const COMPLETE = encoder.encode('event: complete\ndata:\n\n');

/** Yoga pings each SSE response every 12 s; here one sliced timer does it for every fan-out response. */
const PING_MS = 12_000;
const SLICE_MS = 20;
const SLICES = PING_MS / SLICE_MS;
const slots = Array.from({ length: SLICES }, () => new Set<SseSink>());
let nextSlot = 0;
let tick = 0;
let open = 0;
let pinger: NodeJS.Timeout | null = null;

function pingSlice(): void {
  for (const sink of slots[tick++ % SLICES]!) sink.ping();
}

/** Members of one group send the same payload string in a row: it is encoded once for all of them. */
let lastPayload: string | null = null;
let lastFrame: Uint8Array = PING;
function frameOf(payload: string): Uint8Array {
  if (payload !== lastPayload) {
    lastFrame = encoder.encode(`event: next\ndata: ${payload}\n\n`);
    lastPayload = payload;
  }
  return lastFrame;
}

type Controller = ReadableStreamDefaultController<Uint8Array>;

/**
 * The frames waiting for one SSE response. The response body pulls them as the HTTP response drains,
 * but the stream classes between here and the socket buffer some frames of their own, so what a
 * slow reader has not taken (the fan-out's `bufferedAmount`) is counted at the ends: bytes handed to
 * the body minus bytes the socket has passed to the kernel.
 */
export class SseSink implements Sink {
  readyState = OPEN;
  private queue: Uint8Array[] = [];
  private queued = 0;
  private controller: Controller | null = null;
  private pulling = false;
  private ending = false;
  private res: ServerResponse | null = null;
  private socket: Socket | null = null;
  /** Bytes the socket had passed on before this response (a kept-alive connection), and bytes handed to the body. */
  private startBytes = 0;
  private handedOut = 0;
  private readonly slot = slots[nextSlot++ % SLICES]!;
  /** Called once the client left or the response was closed. */
  onGone: (() => void) | null = null;

  get bufferedAmount(): number {
    const socket = this.socket;
    if (!socket || socket.destroyed) return this.queued;
    // Headers and chunk framing count as passed on too: an estimate a few bytes per frame low.
    return Math.max(0, this.handedOut - (socket.bytesWritten - socket.writableLength - this.startBytes));
  }

  send(payload: string): void {
    if (this.readyState !== OPEN || this.ending) return;
    this.push(frameOf(payload));
  }

  ping(): void {
    if (this.queue.length === 0 && this.pulling) this.push(PING);
  }

  /** After the last event: `event: complete`, then the response ends once everything is read. */
  complete(): void {
    if (this.readyState !== OPEN || this.ending) return;
    this.push(COMPLETE);
    this.ending = true;
    if (this.queue.length === 0 && this.pulling) this.finish();
  }

  /** Too slow (or the server closes): the response is cut off; the client reconnects with afterSeq. */
  close(): void {
    if (this.readyState === CLOSED) return;
    this.gone();
    this.res?.destroy();
    try {
      this.controller?.error(new Error('closed by the server'));
    } catch {
      // already closed
    }
  }

  /** The body of the SSE response: first a comment (some browsers wait for a first byte), then the frames. */
  body(ReadableStreamImpl: typeof ReadableStream, res: ServerResponse | undefined): ReadableStream<Uint8Array> {
    this.res = res ?? null;
    this.socket = res?.socket ?? null;
    this.startBytes = this.socket ? this.socket.bytesWritten - this.socket.writableLength : 0;
    res?.once('close', () => this.gone());
    this.slot.add(this);
    if (open++ === 0) {
      pinger = setInterval(pingSlice, SLICE_MS);
      pinger.unref();
    }
    return new ReadableStreamImpl<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller;
          controller.enqueue(PING);
        },
        pull: () => this.pull(),
        cancel: () => this.gone(),
      },
      { highWaterMark: 0 },
    );
  }

  private push(frame: Uint8Array): void {
    this.handedOut += frame.byteLength;
    if (this.pulling && this.controller) {
      this.pulling = false;
      this.controller.enqueue(frame);
      return;
    }
    this.queue.push(frame);
    this.queued += frame.byteLength;
  }

  private pull(): void {
    const frame = this.queue.shift();
    if (frame) {
      this.queued -= frame.byteLength;
      this.controller!.enqueue(frame);
    } else if (this.ending) this.finish();
    else this.pulling = true;
  }

  private finish(): void {
    this.controller?.close();
    this.forget();
    this.readyState = CLOSED;
  }

  private gone(): void {
    if (this.readyState === CLOSED) return;
    this.readyState = CLOSED;
    this.queue = [];
    this.queued = 0;
    this.forget();
    this.onGone?.();
  }

  private forget(): void {
    if (!this.slot.delete(this)) return;
    if (--open === 0 && pinger) {
      clearInterval(pinger);
      pinger = null;
    }
  }
}
