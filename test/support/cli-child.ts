// Runs the medcap CLI (the real main(), with the fake engine) in its own process, so a test
// can kill -9 it, send it signals or give it a small disk.
//
//   node --import tsx test/support/cli-child.ts caption --data D --out O ...
//
// Test-only hooks, read from the environment (the product knows nothing of them):
//   MEDCAP_TEST_ENGINE   JSON options of the FakeEngine (e.g. {"delayMs":20})
//   MEDCAP_TEST_PAUSE_AT where to stop and wait to be killed, announced on stderr as
//                        `@@paused <point>`:
//     read:K          while reading the K-th image file (preprocessing)
//     generate:K      inside the K-th engine call (mid-batch)
//     journal:K       half-way through the K-th journal append (a torn line)
//     write:NAME      half-way through writing the temp file of NAME (an atomic write)
//     rename:NAME     after the temp file of NAME is written, before it is renamed over NAME
//     started:K       (no pause) announced when the K-th engine call starts, for signal tests
//   MEDCAP_TEST_CRASH_ON the process kills itself (SIGKILL, as a native crash would end it):
//     read:NAME       when it opens the image file NAME (preprocessing)
//     engine:ID       when an engine call holds image ID
//     batch:ID        when an engine call holds image ID among others (a batch-size crash)
//     hang:ID         (not a kill) an engine call that holds image ID blocks this thread for
//                     good, as a native call that never returns would
import type { FileHandle } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { basename } from 'node:path';
import { FakeEngine, type FakeEngineOptions } from './fake-engine.js';

const require = createRequire(import.meta.url);
const fsPromises = require('node:fs/promises') as typeof import('node:fs/promises');
const pauseAt = process.env.MEDCAP_TEST_PAUSE_AT ?? '';
const [crashKind, crashArg] = splitOnce(process.env.MEDCAP_TEST_CRASH_ON ?? '', ':');
const engineOptions = JSON.parse(process.env.MEDCAP_TEST_ENGINE ?? '{}') as FakeEngineOptions;
// medcap refuses MEDCAP_* variables it does not know: the hooks are read, then removed.
delete process.env.MEDCAP_TEST_PAUSE_AT;
delete process.env.MEDCAP_TEST_ENGINE;
delete process.env.MEDCAP_TEST_CRASH_ON;
const [pauseKind, pauseArg] = splitOnce(pauseAt, ':');

function splitOnce(text: string, separator: string): [string, string] {
  const at = text.indexOf(separator);
  return at < 0 ? [text, ''] : [text.slice(0, at), text.slice(at + 1)];
}

/** Announces the point and waits forever (a timer keeps the process alive to be killed). */
function pause(point: string): Promise<never> {
  process.stderr.write(`@@paused ${point}\n`);
  return new Promise(() => setInterval(() => {}, 60_000));
}

/** Counts calls; true on the K-th. */
function nth(k: string): () => boolean {
  let calls = 0;
  return () => ++calls === Number(k);
}

/** The file a temp name of writeFileAtomic stands for: `.NAME.abcd1234.tmp` → NAME. */
function atomicTarget(path: string): string | undefined {
  return /^\.(.+)\.[0-9a-f]{8}\.tmp$/.exec(basename(path))?.[1];
}

if (pauseKind === 'read') {
  // Image files are opened (readImageFile: non-blocking, regular files only), then read.
  const hit = nth(pauseArg);
  const open = fsPromises.open;
  fsPromises.open = (async (path: Parameters<typeof open>[0], ...rest: unknown[]) => {
    if (typeof path === 'string' && /\.(jpe?g|png)$/i.test(path) && hit()) await pause(pauseAt);
    return (open as (...args: unknown[]) => unknown)(path, ...rest);
  }) as typeof open;
}

function crash(): never {
  process.kill(process.pid, 'SIGKILL');
  throw new Error('unreachable');
}

if (crashKind === 'read') {
  const open = fsPromises.open;
  fsPromises.open = (async (path: Parameters<typeof open>[0], ...rest: unknown[]) => {
    if (typeof path === 'string' && basename(path) === crashArg) crash();
    return (open as (...args: unknown[]) => unknown)(path, ...rest);
  }) as typeof open;
}

if (pauseKind === 'rename') {
  const rename = fsPromises.rename;
  fsPromises.rename = async (from, to) => {
    if (basename(String(to)) === pauseArg) await pause(pauseAt);
    return rename(from, to);
  };
}

if (pauseKind === 'write' || pauseKind === 'journal') {
  // Remember which path each handle writes, then cut the chosen write in half.
  const paths = new WeakMap<FileHandle, string>();
  const open = fsPromises.open;
  fsPromises.open = (async (path: Parameters<typeof open>[0], ...rest: unknown[]) => {
    const handle = await (open as (...args: unknown[]) => Promise<FileHandle>)(path, ...rest);
    paths.set(handle, String(path));
    return handle;
  }) as typeof open;
  const probe = await open(import.meta.filename, 'r');
  const proto = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  if (pauseKind === 'write') {
    // writeFileAtomic writes a string or buffer with writeFile and pieces with writev.
    const writev = proto.writev;
    proto.writev = async function (this: FileHandle, buffers: NodeJS.ArrayBufferView[]) {
      const target = atomicTarget(paths.get(this) ?? '');
      if (target === pauseArg) {
        const bytes = Buffer.concat(
          buffers.map((b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength)),
        );
        await this.write(bytes.subarray(0, bytes.length >> 1));
        await this.sync();
        await pause(pauseAt);
      }
      return writev.call(this, buffers);
    } as typeof writev;
    const writeFile = proto.writeFile;
    proto.writeFile = async function (this: FileHandle, data: unknown, ...rest: unknown[]) {
      const target = atomicTarget(paths.get(this) ?? '');
      if (target === pauseArg) {
        const bytes = Buffer.from(data as string | Uint8Array);
        await this.write(bytes.subarray(0, bytes.length >> 1));
        await this.sync();
        await pause(pauseAt);
      }
      return (writeFile as (...args: unknown[]) => Promise<void>).call(this, data, ...rest);
    } as typeof writeFile;
  } else {
    const hit = nth(pauseArg);
    const write = proto.write;
    proto.write = async function (this: FileHandle, data: unknown, ...rest: unknown[]) {
      if ((paths.get(this) ?? '').endsWith('.journal.jsonl') && hit()) {
        const bytes = Buffer.from(data as Uint8Array);
        await (write as (...args: unknown[]) => Promise<unknown>).call(
          this,
          bytes.subarray(0, bytes.length >> 1),
        );
        await this.sync();
        await pause(pauseAt);
      }
      return (write as (...args: unknown[]) => Promise<unknown>).call(this, data, ...rest);
    } as typeof write;
  }
}
syncBuiltinESMExports();

class HookedEngine extends FakeEngine {
  private readonly hit = nth(pauseKind === 'generate' || pauseKind === 'started' ? pauseArg : '0');

  override async generate(...args: Parameters<FakeEngine['generate']>) {
    const [batch] = args;
    if (crashKind === 'engine' && batch.some((image) => image.id === crashArg)) crash();
    if (crashKind === 'batch' && batch.length > 1 && batch.some((image) => image.id === crashArg))
      crash();
    if (crashKind === 'hang' && batch.some((image) => image.id === crashArg)) {
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
    }
    if (pauseKind === 'generate' && this.hit()) await pause(pauseAt);
    if (pauseKind === 'started' && this.hit()) process.stderr.write(`@@paused ${pauseAt}\n`);
    return super.generate(...args);
  }
}

const { main } = await import('../../src/cli/main.js');
process.on('SIGXFSZ', () => {});
const code = await main(process.argv.slice(2), { engine: new HookedEngine(engineOptions) });
process.exit(code);
