import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { env as transformersEnv } from '@huggingface/transformers';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { TINY_MODEL_DIR } from '../fixtures/tiny-qwen2-vl/reference.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { type FakeHub, startFakeHub } from '../support/fake-hub.js';
import { TestProxy } from '../support/http-proxy.js';
import { runMain } from '../support/main-in-process.js';

/**
 * `medcap caption` downloading its model behind an institutional proxy. The fake Hub is
 * reached as hub.medcap-test.invalid, a name that resolves nowhere, so only the proxy can
 * reach it; Transformers.js is pointed at it through its `env.remoteHost` (main runs in this
 * process).
 */
const PASSWORD = 'hub-pr0xy-SECRET-31';

let root: string;
let hub: FakeHub;
let proxy: TestProxy | undefined;
const { fetch: nodeFetch, remoteHost } = transformersEnv;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-hub-proxy-'));
  hub = await startFakeHub({ 'acme/tiny-vl': TINY_MODEL_DIR });
});
afterAll(async () => {
  await hub.close();
  await rm(root, { recursive: true, force: true });
});
afterEach(async () => {
  vi.unstubAllEnvs();
  transformersEnv.fetch = nodeFetch;
  transformersEnv.remoteHost = remoteHost;
  await proxy?.close();
  proxy = undefined;
});

async function caption(name: string, scheme = 'http') {
  transformersEnv.remoteHost = `${scheme}://hub.medcap-test.invalid:${new URL(hub.url).port}/`;
  vi.stubEnv('MEDCAP_MODEL_CACHE', join(root, `cache-${name}`));
  const data = await writeRocov2(join(root, `data-${name}`), imageSpecs(2));
  const out = join(root, `out-${name}`);
  const argv = ['caption', '--model', 'acme/tiny-vl', '--data', data, '--out', out];
  const { code, err } = await runMain([...argv, '--max-new-tokens', '4'], { env: {} });
  return { code, stderr: err, out };
}

describe('medcap caption downloading its model through a proxy', () => {
  it('downloads through HTTP_PROXY with credentials and captions, the password in no log or file', async () => {
    proxy = await TestProxy.start({ credentials: `lab:${PASSWORD}` });
    vi.stubEnv('HTTP_PROXY', proxy.url(`lab:${PASSWORD}`));
    const { code, stderr, out } = await caption('ok');
    expect(code, stderr).toBe(0);
    const rows = await readCaptionsCsv(join(out, 'medical_captions_train.csv'));
    expect(rows.map((r) => r.status)).toEqual(['ok', 'ok']);
    expect(proxy.requests.map((r) => r.target)).toContain(
      `http://hub.medcap-test.invalid:${new URL(hub.url).port}/acme/tiny-vl/resolve/main/config.json`,
    );
    expect(stderr).toContain(
      `model downloads from http://hub.medcap-test.invalid:${new URL(hub.url).port} go through ` +
        `the proxy ${proxy.url()} (from HTTP_PROXY)`,
    );
    expect(stderr).not.toContain(PASSWORD);
    const files = await readdir(out, { recursive: true, withFileTypes: true });
    for (const file of files.filter((f) => f.isFile())) {
      const path = join(file.parentPath, file.name);
      expect(await readFile(path, 'utf8'), path).not.toContain(PASSWORD);
    }
  });

  it('stops with exit 2 and one message naming the proxy when it refuses the CONNECT', async () => {
    proxy = await TestProxy.start({ connectStatus: 403 });
    vi.stubEnv('HTTPS_PROXY', proxy.url());
    const { code, stderr } = await caption('refused', 'https');
    expect(code).toBe(2);
    expect(stderr).toContain(
      `cannot download model acme/tiny-vl from the Hugging Face Hub: the proxy ${proxy.url()} ` +
        '(from HTTPS_PROXY) refused to connect to hub.medcap-test.invalid',
    );
  });
});
