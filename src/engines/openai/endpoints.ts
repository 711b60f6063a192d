import { ConfigError } from '../../core/errors.js';

/**
 * Turns an `--endpoint` value into the base URL the SDK wants (`http://host:8000/v1`).
 * A bare server address gets `/v1` (every server medcap targets serves the OpenAI API
 * there); a full `.../chat/completions` URL is cut back to its base.
 */
export function normalizeEndpoint(value: string): { url: string; note?: string } {
  let parsed: URL;
  try {
    parsed = new URL(value.trim());
  } catch {
    throw new ConfigError(
      `--endpoint: '${value}' is not a URL (expected a base URL such as http://localhost:8000/v1)`,
    );
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') {
    throw new ConfigError(
      `--endpoint: '${value}' must start with http:// or https:// (e.g. http://localhost:8000/v1)`,
    );
  }
  if (parsed.username || parsed.password) {
    throw new ConfigError(
      '--endpoint: put no credentials in the URL; set OPENAI_API_KEY or MEDCAP_API_KEY instead',
    );
  }
  parsed.search = '';
  parsed.hash = '';
  let path = parsed.pathname.replace(/\/+$/, '');
  let note: string | undefined;
  const trimmed = path.replace(/\/(chat\/completions|completions|models)$/, '');
  if (trimmed !== path) {
    note = `--endpoint ${value}: using the base URL ${parsed.origin}${trimmed}`;
    path = trimmed;
  }
  if (path === '') {
    path = '/v1';
    note = `--endpoint ${value}: no API path given, using ${parsed.origin}/v1`;
  }
  return note === undefined
    ? { url: `${parsed.origin}${path}` }
    : { url: `${parsed.origin}${path}`, note };
}

/** One server and what it is doing. */
export interface EndpointState {
  readonly url: string;
  /** Requests sent to it and not yet answered. */
  inFlight: number;
  /** Requests it answered (success or HTTP error). */
  answered: number;
  /** Network failures in a row (refused, reset, timed out). */
  consecutiveFailures: number;
  /** Not chosen before this time (ms), after network failures; 0 when healthy. */
  downUntil: number;
}

/** Down time after the n-th network failure in a row: 1 s, 2 s, 4 s … up to 30 s. */
export function downTime(consecutiveFailures: number): number {
  return Math.min(30_000, 1000 * 2 ** Math.max(0, consecutiveFailures - 1));
}

/**
 * Spreads requests over several endpoints by least outstanding requests. Ties go round
 * robin so that idle endpoints all get work. An endpoint with network failures is skipped
 * for a while (growing with each failure in a row) unless every endpoint is down.
 */
export class EndpointPool {
  readonly endpoints: EndpointState[];
  private next = 0;

  constructor(
    urls: readonly string[],
    private readonly now: () => number = Date.now,
  ) {
    if (urls.length === 0) throw new ConfigError('--endpoint is required with --engine openai');
    this.endpoints = urls.map((url) => ({
      url,
      inFlight: 0,
      answered: 0,
      consecutiveFailures: 0,
      downUntil: 0,
    }));
  }

  /** Picks an endpoint and counts a request in flight on it; call `release` when done. */
  acquire(): EndpointState {
    const now = this.now();
    const up = this.endpoints.filter((e) => e.downUntil <= now);
    const candidates =
      up.length > 0 ? up : [this.endpoints.reduce((a, b) => (b.downUntil < a.downUntil ? b : a))];
    const n = this.endpoints.length;
    let best: EndpointState | undefined;
    for (let k = 0; k < n; k += 1) {
      const endpoint = this.endpoints[(this.next + k) % n]!;
      if (!candidates.includes(endpoint)) continue;
      if (best === undefined || endpoint.inFlight < best.inFlight) best = endpoint;
    }
    const chosen = best!;
    this.next = (this.endpoints.indexOf(chosen) + 1) % n;
    chosen.inFlight += 1;
    return chosen;
  }

  /** Records a network failure seen outside a request (the start-up model check). */
  markDown(url: string): void {
    const endpoint = this.endpoints.find((e) => e.url === url);
    if (!endpoint) return;
    endpoint.consecutiveFailures += 1;
    endpoint.downUntil = this.now() + downTime(endpoint.consecutiveFailures);
  }

  /** Ends a request: `network` says whether it failed below HTTP (endpoint may be down). */
  release(endpoint: EndpointState, outcome: 'answered' | 'network' | 'aborted'): void {
    endpoint.inFlight -= 1;
    if (outcome === 'answered') {
      endpoint.answered += 1;
      endpoint.consecutiveFailures = 0;
      endpoint.downUntil = 0;
    } else if (outcome === 'network') {
      this.markDown(endpoint.url);
    }
  }
}
