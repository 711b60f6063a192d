import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { FakeOpenAIServer } from '../support/fake-openai-server.js';
import { TestProxy } from '../support/http-proxy.js';
import { runMain } from '../support/main-in-process.js';

/**
 * `medcap caption --engine openai` behind an institutional proxy: the server's name
 * (api.medcap-test.invalid) resolves nowhere, so only the proxy can reach it.
 */
const PASSWORD = 'pr0xy-SECRET-77';

let root: string;
let server: FakeOpenAIServer | undefined;
let proxy: TestProxy | undefined;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-proxy-'));
});
afterAll(async () => {
  await rm(root, { recursive: true, force: true });
});
afterEach(async () => {
  vi.unstubAllEnvs();
  await server?.close();
  await proxy?.close();
  server = proxy = undefined;
});

async function run(argv: string[]) {
  const { code, err } = await runMain(argv, { env: {} });
  return { code, stderr: err };
}

function captionArgs(endpoint: string, data: string, out: string): string[] {
  return ['caption', '--engine', 'openai', '--endpoint', endpoint, '--data', data, '--out', out];
}

describe('medcap caption --engine openai behind a proxy', () => {
  it('captions through HTTP_PROXY with credentials, keeping the password out of logs and files', async () => {
    proxy = await TestProxy.start({ credentials: `lab:${PASSWORD}` });
    server = await FakeOpenAIServer.start({ models: ['fake-vlm'] });
    vi.stubEnv('HTTP_PROXY', proxy.url(`lab:${PASSWORD}`));
    vi.stubEnv('NO_PROXY', 'intranet.example');
    const endpoint = `http://api.medcap-test.invalid:${new URL(server.url).port}/v1`;
    const data = await writeRocov2(join(root, 'rocov2'), imageSpecs(4));
    const out = join(root, 'out');
    const { code, stderr } = await run(captionArgs(endpoint, data, out));
    expect(code, stderr).toBe(0);
    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(rows.map((r) => r.status)).toEqual(['ok', 'ok', 'ok', 'ok']);
    expect(server.chatRequests).toHaveLength(4);
    expect(proxy.requests.map((r) => `${r.method} ${r.target}`)).toEqual([
      `GET ${endpoint}/models`,
      ...Array(4).fill(`POST ${endpoint}/chat/completions`),
    ]);
    expect(stderr).toContain(`${endpoint} through the proxy ${proxy.url()} (from HTTP_PROXY)`);
    expect(stderr).not.toContain(PASSWORD);
    const files = await readdir(out, { recursive: true, withFileTypes: true });
    for (const file of files.filter((f) => f.isFile())) {
      const path = join(file.parentPath, file.name);
      expect(await readFile(path, 'utf8'), path).not.toContain(PASSWORD);
    }
  });

  it('stops before any image with a message naming the proxy when it wants credentials (407)', async () => {
    proxy = await TestProxy.start({ credentials: `lab:${PASSWORD}` });
    vi.stubEnv('HTTP_PROXY', proxy.url());
    const data = await writeRocov2(join(root, 'rocov2-407'), imageSpecs(2));
    const { code, stderr } = await run(
      captionArgs('http://api.medcap-test.invalid:8000/v1', data, join(root, 'out-407')),
    );
    expect(code).toBe(1);
    expect(stderr).toContain(
      `cannot reach http://api.medcap-test.invalid:8000/v1: HTTP 407: the proxy ${proxy.url()} ` +
        '(from HTTP_PROXY) asks for credentials',
    );
    // 407 is not retried
    expect(proxy.requests).toHaveLength(1);
  });

  it('refuses an https:// proxy URL before the run, naming the variable', async () => {
    vi.stubEnv('HTTPS_PROXY', 'https://proxy.example:8443');
    const data = await writeRocov2(join(root, 'rocov2-https-proxy'), imageSpecs(1));
    const { code, stderr } = await run(
      captionArgs('https://api.medcap-test.invalid/v1', data, join(root, 'out-https-proxy')),
    );
    expect(code).toBe(1);
    expect(stderr).toContain('HTTPS_PROXY=https://proxy.example:8443: proxies reached over TLS');
  });
});
