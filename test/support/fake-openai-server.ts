import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import sharp from 'sharp';

/** A content part of a chat message, loosely typed for checks. */
export interface ChatPart {
  type: string;
  text?: string;
  image_url?: { url: string };
}

/** The JSON body of a chat-completions request. */
export interface ChatBody {
  model: string;
  max_tokens?: number;
  temperature?: number;
  messages: { role: string; content: ChatPart[] }[];
}

/** One request the fake server received. */
export interface FakeRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** Parsed JSON body (an empty object for GET). */
  body: ChatBody;
  /** How many earlier chat requests carried the same image (0 on the first attempt). */
  attempt: number;
}

/** How the server answers a chat request. */
export type FakeReply =
  | {
      status?: number;
      headers?: Record<string, string>;
      /** JSON-encoded unless a string. Default: a completion with `caption`. */
      body?: unknown;
      caption?: string;
      delayMs?: number;
    }
  /** Never answer (the client times out). */
  | 'hang'
  /** Drop the connection without an answer (a network error for the client). */
  | 'drop'
  /** Send 200, the headers and half a completion, then reset the connection. */
  | 'reset-mid-body'
  /** Send 200, the headers and half a completion, then nothing more (the body never ends). */
  | 'stall-mid-body';

export interface DecodedImage {
  width: number;
  height: number;
  channels: number;
  /** RGB pixels, 3 bytes each, whatever the encoding's channel count. */
  rgb: Buffer;
  mime: string;
}

export interface FakeServerOptions {
  /** Ids listed by GET /v1/models (default: ['fake-vlm']). */
  models?: string[];
  /** Status for GET /v1/models instead of the list (e.g. 404, 401). */
  modelsStatus?: number;
  /** Body sent with `modelsStatus` (default: an error saying "no models for you"). */
  modelsBody?: unknown;
  /** Default delay of every chat answer, ms. */
  delayMs?: number;
  /**
   * Works on one chat request at a time, this many ms each, the others queued, and drops
   * from the queue a request whose client has gone (llama.cpp's server with one slot).
   */
  serialMs?: number;
  /** Decode each image (default true); off, the reply sees a 0x0 image (benchmarks). */
  decodeImages?: boolean;
  /** Decides each chat answer (default: a caption describing the decoded image). */
  reply?: (request: FakeRequest, image: DecodedImage) => FakeReply | Promise<FakeReply>;
}

/**
 * Test double of an OpenAI-compatible server on 127.0.0.1 with an ephemeral port: serves
 * GET /v1/models and POST /v1/chat/completions, records every request, and counts the
 * requests in flight.
 */
export class FakeOpenAIServer {
  readonly requests: FakeRequest[] = [];
  inFlight = 0;
  maxInFlight = 0;
  options: FakeServerOptions;
  private readonly sockets = new Set<Socket>();
  private readonly seenImages = new Map<string, number>();
  private readonly server: Server;
  private port = 0;
  private queue: Promise<unknown> = Promise.resolve();
  /** Chat requests answered 200 with a JSON body (whole answers a run was charged for). */
  answered = 0;

  private constructor(options: FakeServerOptions) {
    this.options = options;
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        void this.handle(req.method ?? 'GET', req.url ?? '/', req.headers, chunks, res);
      });
    });
    this.server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  static async start(options: FakeServerOptions = {}): Promise<FakeOpenAIServer> {
    const fake = new FakeOpenAIServer(options);
    await new Promise<void>((resolve) => fake.server.listen(0, '127.0.0.1', resolve));
    fake.port = (fake.server.address() as AddressInfo).port;
    return fake;
  }

  /** Base URL with /v1, as given to --endpoint. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/v1`;
  }

  get chatRequests(): FakeRequest[] {
    return this.requests.filter((r) => r.path.endsWith('/chat/completions'));
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  /**
   * The server goes away for `ms` (stops listening and resets every connection, as a
   * crashed or restarting server does: requests in flight fail, new ones are refused),
   * then listens again on the same port.
   */
  async goAway(ms: number): Promise<void> {
    await this.close();
    await new Promise((resolve) => setTimeout(resolve, ms));
    await new Promise<void>((resolve) => this.server.listen(this.port, '127.0.0.1', resolve));
  }

  private async handle(
    method: string,
    path: string,
    headers: IncomingHttpHeaders,
    chunks: Buffer[],
    res: import('node:http').ServerResponse,
  ): Promise<void> {
    const text = Buffer.concat(chunks).toString('utf8');
    const body = (text ? JSON.parse(text) : {}) as ChatBody;
    if (method === 'GET' && path === '/v1/models') {
      this.requests.push({ method, path, headers, body, attempt: 0 });
      if (this.options.modelsStatus) {
        return send(
          res,
          this.options.modelsStatus,
          this.options.modelsBody ?? { error: { message: 'no models for you' } },
        );
      }
      const models = this.options.models ?? ['fake-vlm'];
      return send(res, 200, {
        object: 'list',
        data: models.map((id) => ({ id, object: 'model', created: 0, owned_by: 'test' })),
      });
    }
    if (method !== 'POST' || path !== '/v1/chat/completions') {
      return send(res, 404, { error: { message: `no route ${method} ${path}` } });
    }
    const uri = body.messages?.[0]?.content.find((p) => p.type === 'image_url')?.image_url?.url;
    if (uri === undefined) {
      return send(res, 400, { error: { message: 'no image_url part in the first message' } });
    }
    const attempt = this.seenImages.get(uri) ?? 0;
    this.seenImages.set(uri, attempt + 1);
    const request: FakeRequest = { method, path, headers, body, attempt };
    this.requests.push(request);
    this.inFlight += 1;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const { serialMs } = this.options;
      if (serialMs !== undefined) {
        const turn = this.queue.then(async () => {
          if (res.destroyed) return false;
          await new Promise((r) => setTimeout(r, serialMs));
          return true;
        });
        this.queue = turn;
        if (!(await turn)) return;
      }
      const image =
        this.options.decodeImages === false
          ? { width: 0, height: 0, channels: 0, rgb: Buffer.alloc(3), mime: 'image/png' }
          : await decodeDataUri(uri);
      const reply: FakeReply = this.options.reply ? await this.options.reply(request, image) : {};
      if (reply === 'hang') {
        await new Promise<void>((resolve) => res.on('close', resolve));
        return;
      }
      if (reply === 'drop') {
        res.socket?.destroy();
        return;
      }
      if (reply === 'reset-mid-body' || reply === 'stall-mid-body') {
        const text = JSON.stringify(completion(body.model, describe(image, body)));
        res.writeHead(200, {
          'content-type': 'application/json',
          'content-length': String(Buffer.byteLength(text)),
        });
        res.write(text.slice(0, text.length >> 1));
        if (reply === 'reset-mid-body') setTimeout(() => res.socket?.destroy(), 5);
        else await new Promise<void>((resolve) => res.on('close', resolve));
        return;
      }
      const delay = reply.delayMs ?? this.options.delayMs ?? 0;
      if (delay > 0) await new Promise((r) => setTimeout(r, delay));
      const status = reply.status ?? 200;
      if (status === 200 && typeof reply.body !== 'string') this.answered += 1;
      const caption = reply.caption ?? describe(image, body);
      send(res, status, reply.body ?? completion(body.model, caption), reply.headers);
    } finally {
      this.inFlight -= 1;
    }
  }
}

function send(
  res: import('node:http').ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  if (res.destroyed) return;
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(text);
}

/** The default caption: what the server saw, so tests can check it. */
function describe(image: DecodedImage, body: ChatBody): string {
  const prompt = body.messages[0]?.content.find((p) => p.type === 'text')?.text ?? '';
  return `a ${image.width}x${image.height} image, first pixel ${image.rgb[0]}, prompt of ${prompt.length} chars`;
}

export function completion(model: string, caption: string): unknown {
  return {
    id: `chatcmpl-${Math.random().toString(36).slice(2)}`,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model,
    choices: [
      {
        index: 0,
        message: { role: 'assistant', content: caption },
        finish_reason: 'stop',
      },
    ],
    usage: { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 },
  };
}

export async function decodeDataUri(uri: string): Promise<DecodedImage> {
  const match = /^data:([\w/+.-]+);base64,(.*)$/s.exec(uri);
  if (!match) throw new Error(`not a base64 data URI: ${uri.slice(0, 40)}`);
  const bytes = Buffer.from(match[2]!, 'base64');
  const meta = await sharp(bytes).metadata();
  const { data, info } = await sharp(bytes)
    .toColourspace('srgb')
    .removeAlpha()
    .raw()
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`expected RGB after decoding, got ${info.channels}`);
  return {
    width: info.width,
    height: info.height,
    channels: meta.channels ?? 0,
    rgb: data,
    mime: match[1]!,
  };
}
