import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { pipeline, type Readable } from 'node:stream';
import { createBrotliDecompress, createGunzip, createInflate } from 'node:zlib';
import {
  httpRequestViaProxy,
  ProxyRefusedError,
  type ProxyRoute,
  proxyFor,
  TunnelAgent,
} from './proxy.js';

/** The fetch this module makes: GET and HEAD requests, answered as a stream. */
export type StreamingFetch = (
  input: string | URL | Request,
  init?: RequestInit,
) => Promise<Response>;

export interface ProxyFetchOptions {
  /** Where the proxy variables are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Certificate authorities for https servers instead of Node's (tests' self-signed one). */
  ca?: string | Buffer;
  /** Called once per origin, with the proxy its requests go through (undefined: directly). */
  onRoute?: (origin: string, proxy: ProxyRoute | undefined) => void;
  /**
   * How long a connection may stay silent, before or during the answer, before the request
   * fails. @default 300_000, as Node's fetch waits for headers and for each part of the body
   */
  idleTimeoutMs?: number;
}

const DECODERS: Record<string, () => NodeJS.ReadWriteStream> = {
  gzip: createGunzip,
  'x-gzip': createGunzip,
  deflate: createInflate,
  br: createBrotliDecompress,
};

/** Statuses whose Response may carry no body. */
const NULL_BODY = new Set([101, 204, 205, 304]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
/** Redirects followed in a row, as fetch does. */
const MAX_REDIRECTS = 20;

/**
 * A fetch over node:http(s) that goes through HTTP_PROXY / HTTPS_PROXY / ALL_PROXY unless
 * NO_PROXY or a loopback host says otherwise (core/proxy.ts), decided once per origin, and
 * hands the body over as a stream as it arrives: model files are gigabytes, and Node's own
 * fetch (which streams) ignores the proxy variables on Node 20.
 *
 * An https:// server is reached over TLS inside a CONNECT tunnel; an http:// one is asked
 * through the proxy with the absolute URI; credentials in the proxy URL go in
 * Proxy-Authorization. Redirects are followed (the Hub sends its large files to a CDN), each
 * hop routed for its own origin; Authorization and Cookie never go to another origin. A proxy
 * that refuses (407, or a CONNECT answered otherwise than 2xx) rejects with a
 * ProxyRefusedError that names the proxy and its variable; a network failure rejects with a
 * TypeError 'fetch failed' whose cause says what happened, as Node's fetch does.
 *
 * Connections are not kept alive: a download makes a few requests, and a socket left open
 * would keep the process alive. Request bodies are not supported (a downloader sends none).
 */
export function createProxyFetch(options: ProxyFetchOptions = {}): StreamingFetch {
  const env = options.env ?? process.env;
  const idleTimeoutMs = options.idleTimeoutMs ?? 300_000;
  const tls = options.ca === undefined ? {} : { ca: options.ca };
  const direct = { 'http:': new HttpAgent(), 'https:': new HttpsAgent(tls) };
  const routes = new Map<string, ProxyRoute | undefined>();
  const tunnels = new Map<string, TunnelAgent>();
  const proxyOf = (url: URL): ProxyRoute | undefined => {
    if (!routes.has(url.origin)) {
      const proxy = proxyFor(url, env);
      routes.set(url.origin, proxy);
      options.onRoute?.(url.origin, proxy);
    }
    return routes.get(url.origin);
  };
  const tunnelThrough = (proxy: ProxyRoute): TunnelAgent => {
    const key = proxy.label + (proxy.authorization ?? '');
    let agent = tunnels.get(key);
    if (agent === undefined) {
      agent = new TunnelAgent(proxy, tls);
      tunnels.set(key, agent);
    }
    return agent;
  };

  return (input, init = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : input);
      const method = (
        init.method ?? (input instanceof Request ? input.method : 'GET')
      ).toUpperCase();
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        reject(new TypeError(`fetch failed: unsupported protocol ${url.protocol}`));
        return;
      }
      if ((method !== 'GET' && method !== 'HEAD') || (init.body ?? null) !== null) {
        reject(
          new TypeError(`fetch: only GET and HEAD without a body are supported, not ${method}`),
        );
        return;
      }
      const signal = init.signal ?? undefined;
      if (signal?.aborted) {
        reject(abortError());
        return;
      }
      const headers: Record<string, string> = {};
      new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined)).forEach(
        (value, name) => {
          headers[name] = value;
        },
      );

      let req: ClientRequest | undefined;
      let res: IncomingMessage | undefined;
      let settled = false;
      const settle = () => {
        settled = true;
        // Once the body is handed over, an abort still ends it (see onAbort).
        if (res === undefined) signal?.removeEventListener('abort', onAbort);
      };
      const fail = (error: unknown) => {
        if (settled) return;
        settle();
        reject(error);
      };
      const onAbort = () => {
        const error = abortError();
        fail(error);
        req?.destroy(error);
        res?.destroy(error);
      };
      signal?.addEventListener('abort', onAbort, { once: true });

      /** One request and its answer; a redirect starts the next with `hops` + 1. */
      const exchange = (target: URL, sent: Record<string, string>, hops: number): void => {
        let proxy: ProxyRoute | undefined;
        try {
          proxy = proxyOf(target);
        } catch (error) {
          // A proxy variable that cannot be used (ConfigError naming it).
          fail(error);
          return;
        }
        const viaHttpProxy = proxy !== undefined && target.protocol === 'http:';
        if (proxy === undefined) {
          req =
            target.protocol === 'https:'
              ? httpsRequest(target, { method, headers: sent, agent: direct['https:'] })
              : httpRequest(target, { method, headers: sent, agent: direct['http:'] });
        } else if (target.protocol === 'https:') {
          req = httpsRequest(target, { method, headers: sent, agent: tunnelThrough(proxy) });
        } else {
          req = httpRequestViaProxy(proxy, target, {
            method,
            headers: sent,
            agent: direct['http:'],
          });
        }
        const through = proxy ? ` (through the proxy ${proxy.label} from ${proxy.variable})` : '';
        const sending = req;
        sending.setTimeout(idleTimeoutMs, () =>
          sending.destroy(
            new Error(`${target.origin} sent nothing for ${idleTimeoutMs / 1000} s${through}`),
          ),
        );
        req.on('error', (error) => {
          if (error instanceof ProxyRefusedError) {
            fail(error);
            return;
          }
          if (viaHttpProxy && !error.message.includes(proxy!.label)) {
            error.message = `${error.message} (the proxy ${proxy!.label} from ${proxy!.variable})`;
          }
          fail(new TypeError('fetch failed', { cause: error }));
        });
        req.on('response', (answer) => {
          if (settled) {
            answer.destroy();
            return;
          }
          const status = answer.statusCode ?? 0;
          const location = answer.headers.location;
          if (REDIRECTS.has(status) && location !== undefined && init.redirect !== 'manual') {
            answer.resume();
            let next: URL;
            try {
              next = new URL(location, target);
            } catch {
              fail(
                new TypeError('fetch failed', { cause: new Error(`bad redirect '${location}'`) }),
              );
              return;
            }
            if (init.redirect === 'error' || hops >= MAX_REDIRECTS) {
              const why = init.redirect === 'error' ? 'a redirect' : 'too many redirects';
              fail(new TypeError('fetch failed', { cause: new Error(`${why} (to ${next.href})`) }));
              return;
            }
            if (next.protocol !== 'http:' && next.protocol !== 'https:') {
              const cause = new Error(`redirect to ${next.href}, not an http(s) URL`);
              fail(new TypeError('fetch failed', { cause }));
              return;
            }
            exchange(next, next.origin === target.origin ? sent : forOtherOrigin(sent), hops + 1);
            return;
          }
          if (status === 407 && viaHttpProxy) {
            answer.resume();
            fail(new ProxyRefusedError(proxy!, target.host, status, answer.statusMessage ?? ''));
            return;
          }
          let response: Response;
          try {
            response = streamedResponse(answer, method);
          } catch (error) {
            answer.destroy();
            fail(new TypeError('fetch failed', { cause: error }));
            return;
          }
          res = answer;
          answer.once('close', () => signal?.removeEventListener('abort', onAbort));
          settle();
          resolve(response);
        });
        req.end();
      };
      exchange(url, headers, 0);
    });
}

/** Headers for a redirect to another origin: credentials stay with their own (as fetch does). */
function forOtherOrigin(headers: Record<string, string>): Record<string, string> {
  const { authorization: _a, cookie: _c, ...kept } = headers;
  return kept;
}

/** The answer as a Response whose body is read from the socket as the reader asks for it. */
function streamedResponse(answer: IncomingMessage, method: string): Response {
  const status = answer.statusCode ?? 0;
  const encoding = answer.headers['content-encoding']?.trim().toLowerCase();
  const decoder = encoding ? DECODERS[encoding]?.() : undefined;
  const headers = new Headers();
  for (let i = 0; i < answer.rawHeaders.length; i += 2) {
    const name = answer.rawHeaders[i]!;
    // A decoded body has neither the encoding nor the length the server sent.
    if (decoder && /^content-(encoding|length)$/i.test(name)) continue;
    headers.append(name, answer.rawHeaders[i + 1]!);
  }
  const init = { status, statusText: answer.statusMessage ?? '', headers };
  if (method === 'HEAD' || NULL_BODY.has(status)) {
    answer.resume();
    return new Response(null, init);
  }
  let source: Readable = answer;
  if (decoder) {
    source = pipeline(answer, decoder, () => {}) as unknown as Readable;
  }
  return new Response(pullStream(source), init);
}

/**
 * A web stream over a Node stream that reads a chunk only when asked (so a slow reader holds
 * back the socket instead of filling memory), errors when the Node stream does (a connection
 * cut part way), and destroys it when cancelled.
 */
function pullStream(source: Readable): ReadableStream<Uint8Array> {
  const chunks = source[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  return new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const { value, done } = await chunks.next();
        if (done) controller.close();
        else controller.enqueue(new Uint8Array(value.buffer, value.byteOffset, value.byteLength));
      },
      async cancel() {
        source.destroy();
      },
    },
    { highWaterMark: 0 },
  );
}

function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}
