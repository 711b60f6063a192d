import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingMessage,
} from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { promisify } from 'node:util';
import { brotliDecompress, gunzip, inflate } from 'node:zlib';
import {
  hasProxyVariable,
  httpRequestViaProxy,
  ProxyRefusedError,
  type ProxyRoute,
  proxyFor,
  proxyRefusal,
  TunnelAgent,
} from '../../core/proxy.js';
import type { FetchLike } from './client.js';

/** Response header that marks an answer made up for a proxy's refusal (see classifyError). */
export const PROXY_HEADER = 'x-medcap-proxy';

const DECODERS: Record<string, (bytes: Buffer) => Promise<Buffer>> = {
  gzip: promisify(gunzip),
  'x-gzip': promisify(gunzip),
  deflate: promisify(inflate),
  br: promisify(brotliDecompress),
};

/** Statuses whose Response may carry no body. */
const NULL_BODY = new Set([101, 204, 205, 304]);

/** Redirects that are followed (as fetch does), at most MAX_REDIRECTS in a row. */
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
export const MAX_REDIRECTS = 5;

export interface HttpFetchOptions {
  /** Where the proxy variables are read (default: process.env). */
  env?: NodeJS.ProcessEnv;
  /** Certificate authorities for https servers instead of Node's (tests' self-signed one). */
  ca?: string | Buffer;
}

/** How requests to one origin travel: directly, or through a proxy. */
interface Route {
  send: typeof httpRequest;
  agent: HttpAgent;
  proxy?: ProxyRoute;
}

/**
 * A `fetch` for the OpenAI SDK over node:http(s) with keep-alive connections.
 *
 * Why not the global fetch: it costs about 40% more CPU per request (its WHATWG streams),
 * which is what limits a client sending hundreds of images a second from two cores; and
 * it resolves when the headers arrive, so the SDK's timeout (cleared at that point) never
 * covers the body, and a body that stalls or breaks part way is not a connection error.
 * Here the promise resolves only once the whole body is in: the SDK's timeout covers it
 * all, and a reset or a stall anywhere before the end is a connection error (retried).
 *
 * Proxies: HTTP_PROXY / HTTPS_PROXY / ALL_PROXY and NO_PROXY (core/proxy.ts), decided once per
 * origin. An http:// server is asked through the proxy with the absolute URI; an https://
 * one over TLS inside a CONNECT tunnel, kept alive like a direct connection. With no proxy
 * variable set, nothing is looked up per request.
 *
 * Redirects: 307/308 are followed with the method and body; 301/302/303 only for GET and
 * HEAD (fetch would turn a POST into a body-less GET, which no API wants): a POST is
 * answered with an error naming the new address. At most 5 in a row; the Authorization
 * header never goes to another origin.
 */
export function createHttpFetch(options: HttpFetchOptions = {}): FetchLike & { close(): void } {
  const tls = options.ca === undefined ? {} : { ca: options.ca };
  const direct: Record<'http:' | 'https:', Route> = {
    'http:': { send: httpRequest, agent: new HttpAgent({ keepAlive: true }) },
    'https:': { send: httpsRequest, agent: new HttpsAgent({ keepAlive: true, ...tls }) },
  };
  const env = options.env ?? process.env;
  const routes = hasProxyVariable(env) ? new Map<string, Route>() : undefined;
  const tunnels = new Map<string, HttpsAgent>();
  const routeFor = (url: URL, protocol: 'http:' | 'https:'): Route => {
    let route = routes!.get(url.origin);
    if (route === undefined) {
      const proxy = proxyFor(url, env);
      if (proxy === undefined) route = direct[protocol];
      else if (protocol === 'http:') route = { ...direct['http:'], proxy };
      else {
        let agent = tunnels.get(proxy.label + (proxy.authorization ?? ''));
        if (agent === undefined) {
          agent = new TunnelAgent(proxy, { keepAlive: true, ...tls });
          tunnels.set(proxy.label + (proxy.authorization ?? ''), agent);
        }
        route = { send: httpsRequest, agent, proxy };
      }
      routes!.set(url.origin, route);
    }
    return route;
  };

  const fetchImpl = (input: string | URL | Request, init: RequestInit = {}) =>
    new Promise<Response>((resolve, reject) => {
      const url = new URL(input instanceof Request ? input.url : input);
      if (url.protocol !== 'http:' && url.protocol !== 'https:') {
        reject(new TypeError(`fetch failed: unsupported protocol ${url.protocol}`));
        return;
      }
      const { signal } = init;
      if (signal?.aborted) {
        reject(abortError());
        return;
      }
      let body: Buffer | undefined;
      try {
        body = requestBody(init.body);
      } catch (error) {
        reject(error);
        return;
      }
      const headers: Record<string, string> = {};
      new Headers(init.headers).forEach((value, name) => {
        headers[name] = value;
      });
      if (body !== undefined) headers['content-length'] = String(body.byteLength);

      let req: ClientRequest;
      let settled = false;
      const succeed = (response: Response) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        resolve(response);
      };
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        signal?.removeEventListener('abort', onAbort);
        reject(error);
      };
      const onAbort = () => {
        fail(abortError());
        req.destroy();
      };

      let resent = false;
      /** One request/response; a redirect starts the next with `hops` + 1. */
      const exchange = (
        target: URL,
        method: string,
        sent: Record<string, string>,
        hops: number,
      ): void => {
        const protocol = target.protocol as 'http:' | 'https:';
        const route = routes ? routeFor(target, protocol) : direct[protocol];
        const proxy = route.proxy;
        if (proxy === undefined || protocol === 'https:') {
          req = route.send(target, { method, headers: sent, agent: route.agent });
        } else {
          req = httpRequestViaProxy(proxy, target, {
            method,
            headers: sent,
            agent: route.agent,
          });
        }
        let responded = false;
        req.on('error', (error) => {
          if (!responded && !settled && !resent && closedWhileIdle(req, error)) {
            // The server closed the kept-alive connection as the request went out on it
            // (its idle timeout): nothing was answered, so it goes again on another, once.
            resent = true;
            exchange(target, method, sent, hops);
            return;
          }
          if (error instanceof ProxyRefusedError) {
            succeed(proxyErrorResponse(error.proxy, error.target, error.status, error.statusText));
            return;
          }
          if (proxy && protocol === 'http:') {
            error.message = `${error.message} (the proxy ${proxy.label} from ${proxy.variable})`;
          }
          fail(new TypeError('fetch failed', { cause: error }));
        });
        req.on('response', (res) => {
          responded = true;
          readBody(res).then(
            (bytes) => {
              if (settled) return;
              const status = res.statusCode ?? 0;
              const location = res.headers.location;
              if (REDIRECTS.has(status) && location !== undefined) {
                const next = nextHop(target, method, sent, status, location, hops);
                if (next instanceof Response) succeed(next);
                else {
                  try {
                    exchange(next.url, next.method, next.headers, hops + 1);
                  } catch (error) {
                    // A proxy variable that cannot be used for the new origin (ConfigError).
                    fail(error);
                  }
                }
                return;
              }
              if (status === 407 && proxy && protocol === 'http:') {
                succeed(proxyErrorResponse(proxy, target.host, status, res.statusMessage ?? ''));
                return;
              }
              try {
                succeed(toResponse(res, bytes));
              } catch (error) {
                fail(new TypeError('fetch failed', { cause: error }));
              }
            },
            (error) => fail(new TypeError('fetch failed', { cause: error })),
          );
        });
        req.end(method === 'GET' || method === 'HEAD' ? undefined : body);
      };

      try {
        exchange(url, init.method ?? 'GET', headers, 0);
      } catch (error) {
        fail(error);
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  return Object.assign(fetchImpl, {
    close: () => {
      direct['http:'].agent.destroy();
      direct['https:'].agent.destroy();
      for (const agent of tunnels.values()) agent.destroy();
    },
  });
}

/**
 * A reset or a hang-up before any answer, on a connection kept alive from an earlier
 * request: the server may have closed it while idle. Sent again once only, so that a
 * server that drops one request each time it gets it is sent it twice, not once per
 * idle connection; a second failure is a network error, retried with backoff.
 */
function closedWhileIdle(req: ClientRequest, error: Error): boolean {
  const { code } = error as NodeJS.ErrnoException;
  return req.reusedSocket && (code === 'ECONNRESET' || code === 'EPIPE');
}

/**
 * Where a redirect leads, or an error answer when it is not followed: a POST moved by
 * 301/302/303 (it would become a GET without its body), too many redirects, a bad Location.
 */
function nextHop(
  current: URL,
  method: string,
  headers: Record<string, string>,
  status: number,
  location: string,
  hops: number,
): { url: URL; method: string; headers: Record<string, string> } | Response {
  let next: URL;
  try {
    next = new URL(location, current);
  } catch {
    return errorResponse(status, `${current.href} redirects to '${location}', which is not a URL`);
  }
  if (hops >= MAX_REDIRECTS) {
    return errorResponse(
      status,
      `more than ${MAX_REDIRECTS} redirects in a row (the last from ${current.href} to ${next.href}); ` +
        "set --endpoint to the server's final address",
    );
  }
  if (next.protocol !== 'http:' && next.protocol !== 'https:') {
    return errorResponse(status, `${current.href} redirects to ${next.href}, not an http(s) URL`);
  }
  const keepsMethod = status === 307 || status === 308 || method === 'GET' || method === 'HEAD';
  if (!keepsMethod) {
    return errorResponse(
      status,
      `the server moved ${method} ${current.href} to ${next.href} (HTTP ${status}), which would ` +
        'turn the request into a GET without its body; set --endpoint to the new address',
    );
  }
  if (next.origin === current.origin) return { url: next, method, headers };
  // Credentials are for the origin they were given for (as fetch does).
  const { authorization: _a, cookie: _c, 'proxy-authorization': _p, ...kept } = headers;
  return { url: next, method, headers: kept };
}

function errorResponse(status: number, message: string, extra: Record<string, string> = {}) {
  return new Response(JSON.stringify({ error: { message } }), {
    status,
    headers: { 'content-type': 'application/json', ...extra },
  });
}

/** The proxy's refusal as an HTTP answer: 407 and 403 fail the image, 502/503 are retried. */
function proxyErrorResponse(
  proxy: ProxyRoute,
  target: string,
  status: number,
  statusText: string,
): Response {
  return errorResponse(status, proxyRefusal(proxy, target, status, statusText), {
    [PROXY_HEADER]: proxy.label,
  });
}

function requestBody(body: RequestInit['body']): Buffer | undefined {
  if (body === undefined || body === null) return undefined;
  if (typeof body === 'string') return Buffer.from(body, 'utf8');
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength);
  if (body instanceof ArrayBuffer) return Buffer.from(body);
  throw new TypeError(`fetch: request bodies of type ${body.constructor.name} are not supported`);
}

/** The whole body, decompressed if the server compressed it; rejects if it ends early. */
async function readBody(res: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  if (!res.complete) throw new Error('the connection closed before the response body ended');
  const bytes = Buffer.concat(chunks);
  const encoding = res.headers['content-encoding']?.trim().toLowerCase();
  const decode = encoding ? DECODERS[encoding] : undefined;
  return decode && bytes.byteLength > 0 ? decode(bytes) : bytes;
}

function toResponse(res: IncomingMessage, bytes: Buffer): Response {
  const headers = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) {
    const name = res.rawHeaders[i]!;
    // The body is handed over decoded and whole.
    if (/^content-(encoding|length)$/i.test(name)) continue;
    headers.append(name, res.rawHeaders[i + 1]!);
  }
  const status = res.statusCode ?? 0;
  return new Response(NULL_BODY.has(status) ? null : bytes, {
    status,
    statusText: res.statusMessage ?? '',
    headers,
  });
}

function abortError(): Error {
  return new DOMException('This operation was aborted', 'AbortError');
}
