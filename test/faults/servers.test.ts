import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import {
  type DecodedImage,
  FakeOpenAIServer,
  type FakeReply,
  type FakeRequest,
} from '../support/fake-openai-server.js';
import { runMain } from '../support/main-in-process.js';
import {
  emptyCompletion,
  FIREWALL_FORBIDDEN,
  IMAGE_NOT_LOADED,
  LLAMACPP_CONTEXT_TOO_LONG,
  LLAMACPP_LOADING,
  LLAMACPP_NO_VISION,
  OPENAI_MISSING_MODEL_READ,
  ollamaUnknownModel,
  PROXY_BODY_TOO_LARGE,
  rateLimited,
  type ServerReply,
  SGLANG_CONTEXT_TOO_LONG,
  truncatedCompletion,
  VLLM_CONTEXT_TOO_LONG,
  VLLM_ILLEGAL_MEMORY_ACCESS,
  vllmUnknownModel,
} from './server-replies.js';

/**
 * Servers as they really fail (docs/RELIABILITY.md §5): the fake server replays the status
 * codes and bodies of vLLM, SGLang, llama.cpp's server, Ollama and a proxy in front of
 * them (test/faults/server-replies.ts says where each comes from), and every run goes
 * through the CLI with medcap's real retry policy and real waits. Each run must end with
 * every image exactly once: captioned, or an error row with the server's words.
 */

const MODEL = 'Qwen/Qwen2-VL-7B-Instruct';
/** How long the server stays away in the outage test (the policy rides out a minute). */
const OUTAGE_MS = Number(process.env.MEDCAP_TEST_OUTAGE_MS ?? 4000);

let root: string;
let server: FakeOpenAIServer | undefined;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-servers-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(async () => {
  await server?.close();
  server = undefined;
});

/** Grey level of image i in the small datasets: flat, so JPEG keeps it exactly. */
const level = (i: number) => 20 + 30 * i;
const indexOf = (image: DecodedImage) => Math.round((image.rgb[0]! - 20) / 30);

/** A ROCOv2 dataset of `n` 56x56 grey JPEGs; `distinct` makes every file's bytes unique. */
async function dataset(name: string, n: number, distinct = false): Promise<string> {
  const data = await writeRocov2(join(root, name), imageSpecs(n));
  for (let i = 0; i < n; i++) {
    const pixels = Buffer.alloc(56 * 56, distinct ? 0 : level(i));
    if (distinct) {
      for (let k = 0; k < pixels.length; k++) {
        pixels[k] = ((k % 56) * ((i % 17) + 1) + Math.floor(k / 56) * ((i >> 4) + 1) + i) & 255;
      }
    }
    const bytes = await sharp(pixels, { raw: { width: 56, height: 56, channels: 1 } })
      .toColourspace('b-w')
      .jpeg({ quality: 90 })
      .toBuffer();
    await writeFile(join(data, 'train', `IMG_${String(i + 1).padStart(4, '0')}.jpg`), bytes);
  }
  return data;
}

/**
 * Which of a dataset's `n` images the server was sent: the nearest in pixels, since the
 * client may decode and re-encode it. Unlike the order requests reach the server in (they
 * travel on several sockets and are decoded concurrently), this is the order they were sent in.
 */
async function imageIndexer(data: string, n: number): Promise<(image: DecodedImage) => number> {
  const files = Array.from({ length: n }, (_, i) =>
    join(data, 'train', `IMG_${String(i + 1).padStart(4, '0')}.jpg`),
  );
  const greys = await Promise.all(files.map((file) => sharp(file).greyscale().raw().toBuffer()));
  return (image) => {
    let best = -1;
    let bestDistance = Infinity;
    greys.forEach((grey, i) => {
      if (grey.length * 3 !== image.rgb.length) return;
      let distance = 0;
      for (let k = 0; k < grey.length; k++) distance += Math.abs(grey[k]! - image.rgb[k * 3]!);
      if (distance < bestDistance) [best, bestDistance] = [i, distance];
    });
    if (best < 0) throw new Error(`no dataset image is ${image.width}x${image.height}`);
    return best;
  };
}

async function caption(data: string, out: string, extra: string[] = []) {
  const { code, err: stderr } = await runMain(
    [
      'caption',
      ...['--engine', 'openai', '--endpoint', server!.url, '--model', MODEL],
      ...['--data', data, '--out', join(root, out), '--log-format', 'json', '--limit', 'all'],
      ...extra,
    ],
    { env: {} },
  );
  if (code !== 0 && code !== 3) return { code, stderr, rows: [] };
  const rows = await readCaptionsCsv(join(root, out, 'medical_captions_train.csv'));
  return { code, stderr, rows };
}

/** The messages of JSON log lines. */
function logMessages(stderr: string): string[] {
  return stderr
    .trim()
    .split('\n')
    .map((line) => (JSON.parse(line) as { message: string }).message);
}

/** Every image of the dataset exactly once, in order, none lost. */
function expectEveryImageOnce(rows: { imageId: string }[], n: number): void {
  expect(rows.map((r) => r.imageId)).toEqual(imageSpecs(n).map((s) => s.id));
}

/** The reply that replays a real server's answer. */
/** The journal of `out` holds captioned items only: no image was failed over a stopped run. */
async function expectOnlyOkItems(out: string): Promise<void> {
  const journal = (await readFile(join(root, out, 'medical_captions_train.journal.jsonl'), 'utf8'))
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { kind: string; status?: string });
  const items = journal.filter((line) => line.kind === 'item');
  expect(items.length).toBeGreaterThan(0);
  expect(items.every((item) => item.status === 'ok')).toBe(true);
}

/** `--resume` into `out` exits 0 with each of the `n` images once, all ok. */
async function expectResumeFinishes(data: string, out: string, n: number): Promise<void> {
  const second = await caption(data, out, ['--resume']);
  expect(second.code, second.stderr).toBe(0);
  expectEveryImageOnce(second.rows, n);
  expect(second.rows.every((r) => r.status === 'ok')).toBe(true);
}

function replay(reply: ServerReply): Exclude<FakeReply, string> {
  return {
    status: reply.status,
    body: reply.body,
    ...(reply.headers ? { headers: reply.headers } : {}),
  };
}

/** Chat requests that carried image `index` (by its grey level). */
async function requestsFor(index: number): Promise<FakeRequest[]> {
  const { decodeDataUri } = await import('../support/fake-openai-server.js');
  const out: FakeRequest[] = [];
  for (const request of server!.chatRequests) {
    const uri = request.body.messages[0]!.content[0]!.image_url!.url;
    if (indexOf(await decodeDataUri(uri)) === index) out.push(request);
  }
  return out;
}

describe("servers as they really fail: fails only its image, with the server's words", () => {
  const rejections: [string, ServerReply][] = [
    ['vLLM: context too long (400)', VLLM_CONTEXT_TOO_LONG],
    ['SGLang: context too long (400, object: error)', SGLANG_CONTEXT_TOO_LONG],
    ['llama.cpp: context too long (400, exceed_context_size_error)', LLAMACPP_CONTEXT_TOO_LONG],
    ['llama.cpp / Ollama: image cannot be loaded (400)', IMAGE_NOT_LOADED],
    ['proxy: image too large for the request body limit (413, HTML)', PROXY_BODY_TOO_LARGE],
    ['a firewall in front of the server refusing one image (403, nginx page)', FIREWALL_FORBIDDEN],
  ];
  for (const [name, reply] of rejections) {
    it(`${name}: an error row naming the server's message, not retried`, async () => {
      server = await FakeOpenAIServer.start({
        models: [MODEL],
        reply: (_r, image) => (indexOf(image) === 2 ? replay(reply) : {}),
      });
      const slug = name.replace(/\W+/g, '-');
      const data = await dataset(`reject-${slug}`, 5);
      const { code, rows } = await caption(data, `out-reject-${slug}`);
      expect(code).toBe(3);
      expectEveryImageOnce(rows, 5);
      expect(rows.filter((r) => r.status === 'error').map((r) => r.imageId)).toEqual(['IMG_0003']);
      const failed = rows[2]!;
      expect(failed.error).toContain(reply.message);
      expect(failed.error).toContain(server.url);
      expect(await requestsFor(2)).toHaveLength(1);
    });
  }

  it('a firewall refusing the very first image and a later one (403), one request at a time: error rows for those two, the run goes on', async () => {
    server = await FakeOpenAIServer.start({
      models: [MODEL],
      reply: (_r, image) => ([0, 7].includes(indexOf(image)) ? replay(FIREWALL_FORBIDDEN) : {}),
    });
    const data = await dataset('firewall-first', 8);
    const { code, rows } = await caption(data, 'out-firewall-first', ['--concurrency', '1']);
    expect(code).toBe(3);
    expectEveryImageOnce(rows, 8);
    expect(rows.filter((r) => r.status === 'error').map((r) => r.imageId)).toEqual([
      'IMG_0001',
      'IMG_0008',
    ]);
    expect(rows[0]!.error).toBe(`${FIREWALL_FORBIDDEN.message} from ${server.url}`);
    expect(server.chatRequests).toHaveLength(8);
  });

  it('a firewall refusing three neighbouring images at once while the model answers slowly, 4 in flight: error rows for those three, the run goes on', async () => {
    // The refusals come back at once, before any image sent after them is answered.
    server = await FakeOpenAIServer.start({
      models: [MODEL],
      delayMs: 150,
      reply: (_r, image) =>
        [2, 3, 4].includes(indexOf(image)) ? { ...replay(FIREWALL_FORBIDDEN), delayMs: 0 } : {},
    });
    const data = await dataset('firewall-neighbours', 8);
    const { code, rows } = await caption(data, 'out-firewall-neighbours', ['--concurrency', '4']);
    expect(code).toBe(3);
    expectEveryImageOnce(rows, 8);
    expect(rows.filter((r) => r.status === 'error').map((r) => r.imageId)).toEqual([
      'IMG_0003',
      'IMG_0004',
      'IMG_0005',
    ]);
  });

  // Before 2026-12-07 each of these stopped the run (exit 2, "no request got an answer …"),
  // and its --resume stopped on the same image again.
  const stuck: [string, number, FakeReply, string[]][] = [
    [
      'a 500 for one image, one request at a time',
      2,
      replay(VLLM_ILLEGAL_MEMORY_ACCESS),
      ['--concurrency', '1'],
    ],
    ['a hang for the last image', 5, 'hang', ['--timeout', '1']],
    [
      'a slow 500 for the last image, after the others were answered',
      5,
      { ...replay(VLLM_ILLEGAL_MEMORY_ACCESS), delayMs: 300 },
      [],
    ],
  ];
  for (const [name, bad, reply, extra] of stuck) {
    it(`${name}: its error row, exit 3, and --resume --retry-failed asks again`, async () => {
      let failing = true;
      server = await FakeOpenAIServer.start({
        models: [MODEL],
        reply: (_r, image) => (failing && indexOf(image) === bad ? reply : {}),
      });
      const slug = name.replace(/\W+/g, '-');
      const data = await dataset(`stuck-${slug}`, 6);
      const first = await caption(data, `out-stuck-${slug}`, ['--retries', '1', ...extra]);
      expect(first.code, first.stderr.slice(-2000)).toBe(3);
      expectEveryImageOnce(first.rows, 6);
      const failed = first.rows.filter((r) => r.status === 'error');
      expect(failed.map((r) => r.imageId)).toEqual([`IMG_000${bad + 1}`]);
      expect(failed[0]!.error).toContain(`from ${server.url} (gave up after 2 attempts)`);
      expect(first.stderr).not.toContain('lowering the requests in flight');

      failing = false;
      const second = await caption(data, `out-stuck-${slug}`, ['--resume', '--retry-failed']);
      expect(second.code, second.stderr.slice(-2000)).toBe(0);
      expect(second.rows.every((r) => r.status === 'ok')).toBe(true);
    });
  }

  it('empty content (200): an ok row warned "empty caption"; no content: an error row with the finish reason; neither retried', async () => {
    server = await FakeOpenAIServer.start({
      models: [MODEL],
      reply: (r, image) => {
        if (indexOf(image) === 1) return { body: emptyCompletion(r.body.model, '', 'length') };
        if (indexOf(image) === 3) return { body: emptyCompletion(r.body.model, null, 'stop') };
        return {};
      },
    });
    const data = await dataset('empty', 5);
    const { code, rows } = await caption(data, 'out-empty');
    expect(code).toBe(3);
    expectEveryImageOnce(rows, 5);
    expect(rows[1]).toMatchObject({ status: 'ok', generatedCaption: '', error: 'empty caption' });
    expect(rows[3]).toMatchObject({
      status: 'error',
      error: 'server answered without a caption (finish_reason: stop)',
    });
    expect(rows.filter((r) => r.status === 'ok')).toHaveLength(4);
    expect(server.chatRequests).toHaveLength(5);
  });

  const gone: [string, ServerReply][] = [
    ['vLLM', vllmUnknownModel(MODEL)],
    ['Ollama', ollamaUnknownModel(MODEL)],
  ];
  for (const [name, reply] of gone) {
    it(`${name}: the model gone mid-run (404): exit 2 naming what it serves, then --resume finishes every image once`, async () => {
      // The server is restarted with another model after 6 answers, then with the right one.
      let serving = MODEL;
      let swapped = false;
      server = await FakeOpenAIServer.start({
        models: [MODEL],
        reply: () => {
          if (server!.answered >= 6 && !swapped) {
            swapped = true;
            serving = 'llava-hf/llava-1.5-7b-hf';
            server!.options.models = [serving];
          }
          return serving === MODEL ? {} : replay(reply);
        },
      });
      const slug = name.replace(/\W+/g, '-');
      const data = await dataset(`gone-${slug}`, 20, true);
      const first = await caption(data, `out-gone-${slug}`, ['--concurrency', '2']);
      expect(first.code).toBe(2);
      const error = logMessages(first.stderr).find((line) => line.includes('is not served there'));
      expect(error).toContain(
        `${server.url}/chat/completions answered ${reply.message.replace(/\.$/, '')}; ` +
          `--model ${MODEL} is not served there, it serves: llava-hf/llava-1.5-7b-hf`,
      );
      expect(error).toContain('run the same command again with --resume');
      // Not one image was failed over it: the journal holds captions only.
      await expectOnlyOkItems(`out-gone-${slug}`);

      serving = MODEL;
      server.options.models = [MODEL];
      await expectResumeFinishes(data, `out-gone-${slug}`, 20);
    });
  }

  it('a server that answers nothing usable for the whole retry budget: exit 2, nothing failed, --resume finishes', async () => {
    let down = false;
    server = await FakeOpenAIServer.start({
      models: [MODEL],
      reply: () => {
        if (server!.answered >= 5) down = true;
        return down
          ? {
              status: 500,
              body: { object: 'error', message: 'EngineCore encountered an issue', code: 500 },
            }
          : {};
      },
    });
    const data = await dataset('dead', 12, true);
    // One request at a time: the image in flight when the server dies is the first to fail.
    const first = await caption(data, 'out-dead', ['--retries', '1', '--concurrency', '1']);
    expect(first.code).toBe(2);
    expect(first.stderr).toMatch(
      /no request got an answer for \d+ s: IMG_\d+ failed with HTTP 500: EngineCore encountered an issue/,
    );
    down = false;
    server.options.reply = () => ({});
    await expectResumeFinishes(data, 'out-dead', 12);
  });

  it('a server that starts refusing every request (403) mid-run: exit 2 after four refusals at 2 in flight, nothing failed, --resume finishes', async () => {
    const data = await dataset('refusing', 20, true);
    const indexOfImage = await imageIndexer(data, 20);
    // From the 7th image on, by the image rather than by when its request is decoded here:
    // a later-sent image let through would make an earlier refusal that image's own.
    server = await FakeOpenAIServer.start({
      models: [MODEL],
      reply: (_request, image) => (indexOfImage(image) >= 6 ? replay(FIREWALL_FORBIDDEN) : {}),
    });
    const first = await caption(data, 'out-refusing', ['--concurrency', '2']);
    expect(first.code).toBe(2);
    // Not '403' alone: the server's port may hold those digits (127.0.0.1:40369).
    const error = logMessages(first.stderr).find((line) => line.includes('HTTP 403'));
    expect(error).toContain(
      `${server.url} refused the last 4 requests sent to it (${FIREWALL_FORBIDDEN.message}) after answering earlier ones`,
    );
    expect(error).toContain('run the same command again with --resume');
    // 3 + (2 in flight - 1) refusals stop it; what freed slots sent meanwhile is refused too.
    expect(server.chatRequests.length - server.answered).toBeLessThanOrEqual(6);
    // The refused images wait for a verdict before their batch is recorded: none is an error row.
    await expectOnlyOkItems('out-refusing');

    server.options.reply = () => ({});
    await expectResumeFinishes(data, 'out-refusing', 20);
  });

  it('llama.cpp without --mmproj (501 image input is not supported): exit 2 at the first answer, not retried', async () => {
    server = await FakeOpenAIServer.start({
      models: [MODEL],
      reply: () => replay(LLAMACPP_NO_VISION),
    });
    const data = await dataset('no-vision', 4);
    const { code, stderr } = await caption(data, 'out-no-vision', ['--concurrency', '1']);
    expect(code).toBe(2);
    const error = logMessages(stderr).find((line) => line.includes('HTTP 501'));
    expect(error).toContain(
      `${server.url}/chat/completions answered ${LLAMACPP_NO_VISION.message}`,
    );
    expect(error).toContain('--mmproj');
    expect(server.chatRequests).toHaveLength(1);
  });

  it('unknown model at start-up: exit 1 naming what the server serves, nothing written', async () => {
    server = await FakeOpenAIServer.start({ models: ['llava-hf/llava-1.5-7b-hf'] });
    const data = await dataset('unknown-model', 2);
    const { code, stderr } = await caption(data, 'out-unknown-model');
    expect(code).toBe(1);
    expect(stderr).toContain(`--model ${MODEL} is not served by ${server.url}`);
    expect(stderr).toContain('llava-hf/llava-1.5-7b-hf');
    expect(server.chatRequests).toHaveLength(0);
  });
});

describe('servers as they really fail: a key that may not list the models (403 to /models)', () => {
  const listingRefused = {
    modelsStatus: OPENAI_MISSING_MODEL_READ.status,
    modelsBody: OPENAI_MISSING_MODEL_READ.body,
  };

  it('--model given, chat requests answered: one warning, every image captioned, exit 0', async () => {
    server = await FakeOpenAIServer.start(listingRefused);
    const data = await dataset('restricted-key', 4);
    const { code, stderr, rows } = await caption(data, 'out-restricted-key');
    expect(code, stderr).toBe(0);
    expectEveryImageOnce(rows, 4);
    expect(rows.every((r) => r.status === 'ok')).toBe(true);
    const warnings = logMessages(stderr).filter((line) => line.includes('/models'));
    expect(warnings).toEqual([
      `openai: ${server.url} refused to list its models (GET /models: ${OPENAI_MISSING_MODEL_READ.message}); ` +
        `going ahead with --model ${MODEL}: the chat requests will tell whether it serves them`,
    ]);
    expect(server.chatRequests.map((r) => r.body.model)).toEqual(Array(4).fill(MODEL));
  });

  it('--model given, every chat request refused too (403): exit 2 at the first requests, nothing failed, --resume finishes', async () => {
    let refusing = true;
    server = await FakeOpenAIServer.start({
      ...listingRefused,
      reply: () => (refusing ? replay(FIREWALL_FORBIDDEN) : {}),
    });
    const data = await dataset('restricted-refused', 12, true);
    const first = await caption(data, 'out-restricted-refused', ['--concurrency', '2']);
    expect(first.code, first.stderr).toBe(2);
    expect(first.stderr).toContain(
      `${server.url} refused the request (${FIREWALL_FORBIDDEN.message}) and let no request through; ` +
        'set the API key in OPENAI_API_KEY or MEDCAP_API_KEY (neither is set)',
    );
    // Three refusals stop it: 2 in flight per batch, and what their freed slots sent meanwhile.
    expect(server.chatRequests.length).toBeLessThan(12);
    expect(server.answered).toBe(0);
    // The refused images wait for a verdict before their batch is recorded: none is an error row.
    const journal = await readFile(
      join(root, 'out-restricted-refused', 'medical_captions_train.journal.jsonl'),
      'utf8',
    );
    const kinds = journal
      .trim()
      .split('\n')
      .map((line) => (JSON.parse(line) as { kind: string }).kind);
    expect(kinds).not.toContain('item');

    refusing = false;
    await expectResumeFinishes(data, 'out-restricted-refused', 12);
  });

  it('--model left at its default: exit 1 asking for --model, no chat request sent', async () => {
    server = await FakeOpenAIServer.start({ models: [MODEL], ...listingRefused });
    const data = await dataset('restricted-default', 2);
    const { code, err } = await runMain(
      [
        'caption',
        ...['--engine', 'openai', '--endpoint', server.url],
        ...['--data', data, '--out', join(root, 'out-restricted-default')],
      ],
      { env: {} },
    );
    expect(code).toBe(1);
    expect(err).toContain(
      `--model: ${server.url} refused to list its models (GET /models: ${OPENAI_MISSING_MODEL_READ.message}), ` +
        'so medcap cannot choose one; pass --model with the model to ask for',
    );
    expect(server.chatRequests).toHaveLength(0);
  });
});

describe('servers as they really fail: retried until the server answers', () => {
  const transient: [string, (attempt: number) => FakeReply | 'ok'][] = [
    ['llama.cpp: 503 "Loading model" twice', (a) => (a < 2 ? replay(LLAMACPP_LOADING) : 'ok')],
    ['429 without Retry-After', (a) => (a < 2 ? replay(rateLimited()) : 'ok')],
    ['connection reset part way through the body', (a) => (a < 1 ? 'reset-mid-body' : 'ok')],
    ['a body that never finishes (--timeout 1)', (a) => (a < 1 ? 'stall-mid-body' : 'ok')],
    ['malformed JSON in a 200', (a) => (a < 1 ? { body: truncatedCompletion(MODEL) } : 'ok')],
    ['connection dropped before any answer', (a) => (a < 1 ? 'drop' : 'ok')],
  ];
  for (const [name, failing] of transient) {
    it(`${name}: retried with backoff, then captioned; answered once`, async () => {
      server = await FakeOpenAIServer.start({
        models: [MODEL],
        reply: (r, image) => {
          const reply = indexOf(image) === 1 ? failing(r.attempt) : 'ok';
          return reply === 'ok' ? { caption: `caption of image ${indexOf(image)}` } : reply;
        },
      });
      const slug = name.replace(/\W+/g, '-');
      const data = await dataset(`transient-${slug}`, 4);
      const { code, rows, stderr } = await caption(data, `out-transient-${slug}`, [
        '--timeout',
        '1',
      ]);
      expect(code, stderr).toBe(0);
      expectEveryImageOnce(rows, 4);
      expect(rows.map((r) => r.generatedCaption)).toEqual(
        [0, 1, 2, 3].map((i) => `caption of image ${i}`),
      );
      // Each image was charged one whole answer: no caption was asked for twice.
      expect(server.answered).toBe(4);
      expect((await requestsFor(1)).length).toBeGreaterThan(1);
    });
  }

  it('429 with Retry-After: the next try waits at least what the server asked', async () => {
    const seenAt: number[] = [];
    server = await FakeOpenAIServer.start({
      models: [MODEL],
      reply: (r, image) => {
        if (indexOf(image) !== 0) return {};
        seenAt.push(performance.now());
        return r.attempt === 0 ? replay(rateLimited('2')) : {};
      },
    });
    const data = await dataset('retry-after', 2);
    const { code, rows, stderr } = await caption(data, 'out-retry-after');
    expect(code).toBe(0);
    expectEveryImageOnce(rows, 2);
    expect(seenAt).toHaveLength(2);
    expect(seenAt[1]! - seenAt[0]!).toBeGreaterThanOrEqual(2000);
    expect(stderr).toContain('backing off for as long as the server asks');
  });

  it(`a server that goes away (${OUTAGE_MS} ms here, the same as for a minute) and comes back`, async () => {
    let outage: Promise<void> | undefined;
    server = await FakeOpenAIServer.start({
      models: [MODEL],
      delayMs: 20,
      reply: () => {
        // Part way through the run the server crashes and restarts, dropping what is in flight.
        if (server!.chatRequests.length >= 40 && !outage) outage = server!.goAway(OUTAGE_MS);
        return {};
      },
    });
    const data = await dataset('outage', 120, true);
    const { code, rows, stderr } = await caption(data, 'out-outage', ['--concurrency', '8']);
    await outage;
    expect(code, stderr).toBe(0);
    expectEveryImageOnce(rows, 120);
    expect(rows.every((r) => r.status === 'ok')).toBe(true);
    expect(stderr).toMatch(/stopped answering \(network error: (ECONNREFUSED|ECONNRESET)/);
    expect(stderr).toContain(`${server.url} answers again`);
  });
});

describe('servers as they really fail: too slow for --concurrency', () => {
  it('a server that queues requests past --timeout (one slot): fewer in flight, every image captioned', async () => {
    // 16 in flight at 150 ms each is a 2.4 s queue against a 1 s timeout: the requests at its
    // end time out while the server answers the ones at its head.
    server = await FakeOpenAIServer.start({ models: [MODEL], serialMs: 150, decodeImages: false });
    const data = await dataset('queueing', 40, true);
    const { code, rows, stderr } = await caption(data, 'out-queueing', [
      ...['--concurrency', '16', '--timeout', '1', '--retries', '3'],
    ]);
    expect(code, stderr.slice(-2000)).toBe(0);
    expectEveryImageOnce(rows, 40);
    expect(stderr).toContain(
      'requests time out after 1 s while the server answers others (it queues them): ' +
        'lowering the requests in flight from 16 to 8',
    );
  });
});

describe('servers as they really fail: 30% of requests failing at random', () => {
  it('a 2,000-image run completes with every image exactly once', async () => {
    const failures: FakeReply[] = [
      replay(LLAMACPP_LOADING),
      replay(rateLimited()),
      replay(rateLimited('0')),
      {
        status: 500,
        body: {
          error: {
            message: 'EngineCore encountered an issue',
            type: 'InternalServerError',
            param: null,
            code: 500,
          },
        },
      },
      'reset-mid-body',
      'drop',
      { body: truncatedCompletion(MODEL) },
    ];
    server = await FakeOpenAIServer.start({
      models: [MODEL],
      decodeImages: false,
      reply: (r) => {
        // The same image on the same attempt always gets the same fate: a reproducible run.
        const uri = r.body.messages[0]!.content[0]!.image_url!.url;
        const draw = createHash('sha256').update(`${r.attempt}:${uri}`).digest().readUInt32BE(0);
        if (draw / 2 ** 32 < 0.3) return failures[draw % failures.length]!;
        return { caption: `caption ${createHash('sha1').update(uri).digest('hex').slice(0, 12)}` };
      },
    });
    const n = 2000;
    const data = await dataset('random-30', n, true);
    const { code, rows, stderr } = await caption(data, 'out-random-30', [
      ...['--concurrency', '128', '--timeout', '5', '--checkpoint-every', '0'],
    ]);
    expect(code, stderr.slice(-2000)).toBe(0);
    expectEveryImageOnce(rows, n);
    expect(rows.every((r) => r.status === 'ok')).toBe(true);
    expect(server.answered).toBe(n);
    const failed = server.chatRequests.length - n;
    expect(failed / server.chatRequests.length).toBeGreaterThan(0.25);
    const journal = (
      await readFile(join(root, 'out-random-30', 'medical_captions_train.journal.jsonl'), 'utf8')
    )
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line) as { kind: string; id?: string });
    const items = journal.filter((line) => line.kind === 'item').map((line) => line.id);
    expect(new Set(items).size).toBe(n);
    expect(items).toHaveLength(n);
  });
});
