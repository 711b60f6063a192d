// HTTP proxies as institutional networks use them: which proxy a request takes (the usual
// variables and NO_PROXY), the CONNECT tunnel to https:// servers, and what a refusal says.
// Shared by the openai engine's fetch and the Hugging Face Hub downloads.
import { type ClientRequest, type Agent as HttpAgent, request as httpRequest } from 'node:http';
import {
  Agent as HttpsAgent,
  type AgentOptions as HttpsAgentOptions,
  type RequestOptions as HttpsRequestOptions,
} from 'node:https';
import { BlockList, connect, isIP, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { ConfigError } from './errors.js';

/** An HTTP proxy to send requests for one origin through, as read from the environment. */
export interface ProxyRoute {
  /** `http://host:port`, never with the credentials: for messages and logs. */
  readonly label: string;
  /** The variable it came from, e.g. `HTTPS_PROXY`. */
  readonly variable: string;
  readonly host: string;
  readonly port: number;
  /** `Basic …` from user:password in the proxy URL. */
  readonly authorization?: string;
}

/**
 * Proxy variables per target scheme, in the order read: lower case first (curl reads only
 * `http_proxy` in lower case; Python and Go read both), then `all_proxy` as curl does.
 */
const PROXY_VARIABLES: Record<'http:' | 'https:', readonly string[]> = {
  'http:': ['http_proxy', 'HTTP_PROXY', 'all_proxy', 'ALL_PROXY'],
  'https:': ['https_proxy', 'HTTPS_PROXY', 'all_proxy', 'ALL_PROXY'],
};

/**
 * A plain http:// request through `proxy`: sent to the proxy with the absolute URI as the
 * path, its credentials in Proxy-Authorization.
 */
export function httpRequestViaProxy(
  proxy: ProxyRoute,
  target: URL,
  options: { method: string; headers: Record<string, string>; agent: HttpAgent },
): ClientRequest {
  const headers: Record<string, string> = { ...options.headers, host: target.host };
  if (proxy.authorization) headers['proxy-authorization'] = proxy.authorization;
  return httpRequest({
    host: proxy.host,
    port: proxy.port,
    path: target.href,
    method: options.method,
    headers,
    agent: options.agent,
  });
}

/** True when any proxy variable is set: without one, requests skip the proxy lookup. */
export function hasProxyVariable(env: NodeJS.ProcessEnv): boolean {
  return [...PROXY_VARIABLES['http:'], ...PROXY_VARIABLES['https:']].some((name) =>
    Boolean(env[name]?.trim()),
  );
}

/**
 * The proxy for requests to `target`'s origin, or undefined to connect directly: no
 * variable for its scheme, a loopback host (never proxied, as Go and Node do), or a match
 * in NO_PROXY. Throws ConfigError, naming the variable, for a proxy URL it cannot use.
 */
export function proxyFor(target: URL, env: NodeJS.ProcessEnv): ProxyRoute | undefined {
  if (target.protocol !== 'http:' && target.protocol !== 'https:') return undefined;
  const variable = PROXY_VARIABLES[target.protocol].find((name) => Boolean(env[name]?.trim()));
  if (variable === undefined) return undefined;
  if (isLoopback(hostOf(target))) return undefined;
  if (matchesNoProxy(target, env.no_proxy ?? env.NO_PROXY)) return undefined;
  return parseProxyUrl(env[variable]!.trim(), variable);
}

export function parseProxyUrl(value: string, variable: string): ProxyRoute {
  // `proxy:3128` without a scheme means http://, as in curl.
  const text = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(
      `${variable}: not a proxy URL (expected http://host:port or http://user:password@host:port)`,
    );
  }
  const label = `${url.protocol}//${url.host}`;
  if (url.protocol === 'https:') {
    throw new ConfigError(
      `${variable}=${label}: proxies reached over TLS (https://) are not supported; give the ` +
        "proxy's http:// address (requests to https:// servers still travel encrypted, through a CONNECT tunnel)",
    );
  }
  if (url.protocol !== 'http:') {
    throw new ConfigError(
      `${variable}=${label}: only HTTP proxies (http://host:port) are supported, not ${url.protocol.slice(0, -1)}`,
    );
  }
  const route = {
    label,
    variable,
    host: url.hostname.replace(/^\[(.*)\]$/, '$1'),
    port: url.port ? Number(url.port) : 80,
  };
  if (!url.username && !url.password) return route;
  const credentials = `${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`;
  return { ...route, authorization: `Basic ${Buffer.from(credentials).toString('base64')}` };
}

/** Host name without IPv6 brackets or a trailing dot, lower case. */
function hostOf(url: URL): string {
  return url.hostname
    .replace(/^\[(.*)\]$/, '$1')
    .replace(/\.$/, '')
    .toLowerCase();
}

function portOf(url: URL): number {
  return url.port ? Number(url.port) : url.protocol === 'https:' ? 443 : 80;
}

/** localhost, *.localhost, 127.0.0.0/8 and ::1. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host.endsWith('.localhost') || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/**
 * NO_PROXY as curl reads it: entries separated by commas (or spaces); `*` alone matches
 * every host; a name matches itself and its subdomains, with or without a leading `.` or
 * `*.` (`example.org`, `.example.org`); `host:port` matches that port only; an IP address
 * matches itself, and `10.0.0.0/8` or `fd00::/8` a range (as Go and Python do).
 */
export function matchesNoProxy(target: URL, noProxy: string | undefined): boolean {
  if (!noProxy) return false;
  const host = hostOf(target);
  const port = portOf(target);
  const hostIp = isIP(host);
  for (const raw of noProxy.split(/[\s,]+/)) {
    let entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return true;
    if (entry.includes('/')) {
      const [address = '', bits = ''] = entry.split('/');
      const family = isIP(address);
      if (hostIp === 0 || family === 0 || !/^\d+$/.test(bits)) continue;
      const range = new BlockList();
      try {
        range.addSubnet(address, Number(bits), family === 6 ? 'ipv6' : 'ipv4');
      } catch {
        continue;
      }
      if (range.check(host, hostIp === 6 ? 'ipv6' : 'ipv4')) return true;
      continue;
    }
    let entryPort: number | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    if (bracketed) {
      entry = bracketed[1]!;
      if (bracketed[2]) entryPort = Number(bracketed[2]);
    } else if (/^[^:]+:\d+$/.test(entry)) {
      const at = entry.lastIndexOf(':');
      entryPort = Number(entry.slice(at + 1));
      entry = entry.slice(0, at);
    }
    if (entryPort !== undefined && entryPort !== port) continue;
    const entryIp = isIP(entry);
    if (entryIp !== 0) {
      if (hostIp === entryIp && sameAddress(host, entry, entryIp)) return true;
      continue;
    }
    const name = entry.replace(/^\*?\./, '').replace(/\.$/, '');
    if (name !== '' && (host === name || host.endsWith(`.${name}`))) return true;
  }
  return false;
}

function sameAddress(a: string, b: string, family: number): boolean {
  if (family === 4) return a === b;
  const list = new BlockList();
  list.addAddress(b, 'ipv6');
  return list.check(a, 'ipv6');
}

/**
 * The proxy refused: it answered a CONNECT with something other than 2xx, or a request with
 * 407. The message names the proxy (never the password) and the variable it came from, the
 * status, and the fix (proxyRefusal).
 */
export class ProxyRefusedError extends Error {
  override readonly name = 'ProxyRefusedError';
  constructor(
    readonly proxy: ProxyRoute,
    /** `host:port` asked for. */
    readonly target: string,
    readonly status: number,
    readonly statusText: string,
  ) {
    super(proxyRefusal(proxy, target, status, statusText));
  }
}

/** Longest CONNECT answer header read before giving up on the proxy. */
const MAX_CONNECT_HEADER = 16 * 1024;
/**
 * How long a proxy may take to answer a CONNECT. Proxies answer in milliseconds; one that
 * accepted the connection and says nothing would otherwise hold the socket until the
 * request's own timeout (minutes, sized for generation), on every retry.
 */
export const CONNECT_TIMEOUT_MS = 30_000;

/**
 * Opens a CONNECT tunnel through `proxy` to host:port and hands over the socket once the
 * proxy says 2xx; a proxy that answers otherwise gives a ProxyRefusedError.
 */
export function openTunnel(
  proxy: ProxyRoute,
  host: string,
  port: number,
  callback: (error: Error | null, socket?: Socket) => void,
  timeoutMs = CONNECT_TIMEOUT_MS,
): void {
  const authority = `${isIP(host) === 6 ? `[${host}]` : host}:${port}`;
  const socket = connect({ host: proxy.host, port: proxy.port });
  socket.setTimeout(timeoutMs, () =>
    finish(
      new Error(
        `the proxy ${proxy.label} (from ${proxy.variable}) did not answer CONNECT ${authority} within ${timeoutMs / 1000} s`,
      ),
    ),
  );
  let received = Buffer.alloc(0);
  let done = false;
  const finish = (error: Error | null) => {
    if (done) return;
    done = true;
    socket.setTimeout(0);
    socket.removeListener('data', onData);
    socket.removeListener('error', onError);
    socket.removeListener('end', onEnd);
    if (error) {
      socket.destroy();
      callback(error);
    } else {
      callback(null, socket);
    }
  };
  const onError = (error: Error) => {
    error.message = `${error.message} (the proxy ${proxy.label} from ${proxy.variable})`;
    finish(error);
  };
  const onEnd = () =>
    finish(new Error(`the proxy ${proxy.label} closed the connection during CONNECT ${authority}`));
  const onData = (chunk: Buffer) => {
    received = Buffer.concat([received, chunk]);
    const end = received.indexOf('\r\n\r\n');
    if (end === -1) {
      if (received.length > MAX_CONNECT_HEADER) {
        finish(new Error(`the proxy ${proxy.label} sent an overlong answer to CONNECT`));
      }
      return;
    }
    const statusLine = received.subarray(0, received.indexOf('\r\n')).toString('latin1');
    const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
    if (!match) {
      finish(new Error(`the proxy ${proxy.label} answered CONNECT with '${statusLine}'`));
      return;
    }
    const status = Number(match[1]);
    if (status < 200 || status > 299) {
      finish(new ProxyRefusedError(proxy, authority, status, match[2] ?? ''));
      return;
    }
    const rest = received.subarray(end + 4);
    if (rest.length > 0) socket.unshift(rest);
    finish(null);
  };
  socket.on('data', onData);
  socket.on('error', onError);
  socket.on('end', onEnd);
  socket.write(
    `CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n` +
      (proxy.authorization ? `Proxy-Authorization: ${proxy.authorization}\r\n` : '') +
      '\r\n',
  );
}

/**
 * What to tell the user when the proxy refused: the status, the proxy (without the
 * password), and the fix.
 */
export function proxyRefusal(
  proxy: ProxyRoute,
  target: string,
  status: number,
  statusText: string,
): string {
  const said = `HTTP ${status}${statusText ? ` ${statusText}` : ''}`;
  if (status === 407) {
    return proxy.authorization
      ? `the proxy ${proxy.label} (from ${proxy.variable}) did not accept the user and password in ${proxy.variable} (${said})`
      : `the proxy ${proxy.label} (from ${proxy.variable}) asks for credentials (${said}): set ${proxy.variable}=http://user:password@${proxy.label.replace(/^http:\/\//, '')}`;
  }
  return (
    `the proxy ${proxy.label} (from ${proxy.variable}) refused to connect to ${target} (${said}); ` +
    'if the server should be reached directly, add it to NO_PROXY'
  );
}

/**
 * An https.Agent whose connections are TLS inside CONNECT tunnels through one proxy: TLS end
 * to end to the server, its certificate checked against its own name.
 */
export class TunnelAgent extends HttpsAgent {
  constructor(
    private readonly proxy: ProxyRoute,
    options: HttpsAgentOptions,
  ) {
    super(options);
  }

  override createConnection(
    options: HttpsRequestOptions,
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    openTunnel(this.proxy, String(options.host), Number(options.port), (error, socket) => {
      if (error || !socket) {
        callback?.(error ?? new Error('no tunnel'), undefined as unknown as Duplex);
        return;
      }
      // https.Agent's own createConnection over the tunnel: TLS (servername = the target
      // host, set by the agent) with its session cache.
      const secure = super.createConnection({ ...options, socket } as HttpsRequestOptions);
      if (secure) callback?.(null, secure);
    });
    return undefined;
  }
}
