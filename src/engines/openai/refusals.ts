/**
 * Refused requests (HTTP 403) that, with none sent after them let through, stop the run,
 * with one request in flight at a time. 3: with `--concurrency 1` the run keeps 4
 * one-image batches in flight, so the 2 refusals waiting for their verdict still leave a
 * request in flight to be the third.
 */
export const REFUSALS_TO_STOP = 3;

/**
 * REFUSALS_TO_STOP with `concurrency` requests in flight: one more for each further slot.
 * A firewall answers a refusal at once, while the model takes seconds to answer the
 * images sent after it, so a few neighbouring images refused for their own content all
 * come back before any later one is let through; at 3 they would stop a run at 32 in
 * flight (and its --resume, at the same images). A key refused mid-run costs the requests
 * in flight plus 2 before the run stops; the run still keeps enough in flight to get there
 * (4 batches of `concurrency`).
 */
export function refusalsToStop(concurrency: number): number {
  return REFUSALS_TO_STOP + Math.max(1, concurrency) - 1;
}

/** What a 403 means, once known. */
export type RefusalVerdict =
  /** The endpoint let a request sent later through: the refusal was about this image. */
  | { stop: false }
  /**
   * No image can pass: `never`, the endpoint let no request through in this run; `streak`,
   * it refused the last `count` requests sent to it after letting earlier ones through.
   */
  | { stop: true; why: 'never' | 'streak'; count: number };

interface EndpointRefusals {
  /** Place in the send order of the latest-sent request it let through (0: none yet). */
  lastPassed: number;
  /** Places of the requests it refused that were sent after `lastPassed`. */
  refused: number[];
  /** Verdicts not yet given, by the refused request's place. */
  pending: Map<number, (verdict: RefusalVerdict) => void>;
}

/**
 * Tells a 403 about one request (a web application firewall, a gateway or a content policy
 * refusing one image) from a 403 about every request (the key refused or revoked, a gateway
 * that now blocks everything), per endpoint, from the order the requests were sent in: a
 * refusal is the image's own once the endpoint, after refusing it, lets a request sent after
 * it through, and stops the run when REFUSALS_TO_STOP refusals have no such request after
 * them. A refusal
 * waits for its verdict; when nothing is left to send to give one (`idle`), it is the
 * image's own if the endpoint let any request through in this run, and stops the run if not.
 */
export class RefusalTracker {
  private sent = 0;
  private readonly endpoints = new Map<string, EndpointRefusals>();

  constructor(private readonly limit: number = REFUSALS_TO_STOP) {}

  /** The place in the send order of a request about to be sent: 1, 2, … */
  next(): number {
    this.sent += 1;
    return this.sent;
  }

  /**
   * The request at `place` got a completion from `url`: the refusals received so far of
   * requests sent before it were their images' own.
   */
  passed(url: string, place: number): void {
    const endpoint = this.endpoint(url);
    endpoint.lastPassed = Math.max(endpoint.lastPassed, place);
    endpoint.refused = endpoint.refused.filter((p) => p > place);
    for (const [refused, give] of endpoint.pending) {
      if (refused > place) continue;
      endpoint.pending.delete(refused);
      give({ stop: false });
    }
  }

  /**
   * The request at `place` got a 403 from `url`: its verdict, at once or once known. A
   * request sent after it that was let through before this refusal came proves nothing:
   * requests travel on several connections, and one sent earlier may reach a gateway just
   * after it started refusing every request.
   */
  refused(url: string, place: number): Promise<RefusalVerdict> {
    const endpoint = this.endpoint(url);
    endpoint.refused.push(place);
    if (endpoint.refused.length >= this.limit) {
      const verdict: RefusalVerdict = {
        stop: true,
        why: endpoint.lastPassed === 0 ? 'never' : 'streak',
        count: endpoint.refused.length,
      };
      this.give(endpoint, verdict);
      return Promise.resolve(verdict);
    }
    return new Promise((resolve) => endpoint.pending.set(place, resolve));
  }

  /** Whether a refusal is waiting for its verdict. */
  get waiting(): boolean {
    for (const endpoint of this.endpoints.values()) if (endpoint.pending.size > 0) return true;
    return false;
  }

  /** Nothing is in flight or waiting to be sent: gives every verdict still waiting. */
  idle(): void {
    for (const endpoint of this.endpoints.values()) {
      if (endpoint.pending.size === 0) continue;
      this.give(
        endpoint,
        endpoint.lastPassed === 0
          ? { stop: true, why: 'never', count: endpoint.refused.length }
          : { stop: false },
      );
    }
  }

  private give(endpoint: EndpointRefusals, verdict: RefusalVerdict): void {
    const waiting = [...endpoint.pending.values()];
    endpoint.pending.clear();
    for (const give of waiting) give(verdict);
  }

  private endpoint(url: string): EndpointRefusals {
    let endpoint = this.endpoints.get(url);
    if (!endpoint) {
      endpoint = { lastPassed: 0, refused: [], pending: new Map() };
      this.endpoints.set(url, endpoint);
    }
    return endpoint;
  }
}
