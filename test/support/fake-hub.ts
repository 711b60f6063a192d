// A stand-in for the Hugging Face Hub on 127.0.0.1: serves each model folder it is given as
// `<owner>/<name>/resolve/main/<file>`, 404 for a file the folder lacks and 401 for a model
// it does not know (what the Hub answers without a token). Transformers.js is pointed at it
// through its `env.remoteHost`.
import { readFile } from 'node:fs/promises';
import { createServer, type RequestListener } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface FakeHub {
  url: string;
  /** Paths asked for, in order (`acme/tiny-vl/resolve/main/config.json`). */
  requests: string[];
  close(): Promise<void>;
}

export interface FakeHubOptions {
  /** Certificate and key: serve https:// instead of http://. */
  tls?: { cert: Buffer | string; key: Buffer | string };
}

export async function startFakeHub(
  models: Record<string, string>,
  options: FakeHubOptions = {},
): Promise<FakeHub> {
  const requests: string[] = [];
  const answer: RequestListener = async (request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://hub').pathname).slice(1);
    requests.push(path);
    const match = /^([^/]+\/[^/]+)\/resolve\/main\/(.+)$/.exec(path);
    const folder = match ? models[match[1]!] : undefined;
    if (!match || folder === undefined) {
      response.writeHead(401).end('Repository not found');
      return;
    }
    const file = normalize(match[2]!);
    if (file.startsWith('..')) {
      response.writeHead(400).end();
      return;
    }
    try {
      const body = await readFile(join(folder, file));
      response
        .writeHead(200, { 'content-length': body.length })
        .end(request.method === 'HEAD' ? undefined : body);
    } catch {
      response.writeHead(404).end('Entry not found');
    }
  };
  const server = options.tls ? createHttpsServer(options.tls, answer) : createServer(answer);
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as AddressInfo;
  return {
    url: `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}/`,
    requests,
    close: () => new Promise<void>((done) => server.close(() => done())),
  };
}
