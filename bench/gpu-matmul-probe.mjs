// The matrix-product probe of bench/gpu-matmul-probe.sh, plain Node:
//   node bench/gpu-matmul-probe.mjs ONNXRUNTIME_NODE_DIR GRAPH_DIR RESULTS
// For each chain that bench/gpu_matmul_probe.py built: its time on WebGPU at each M (2 warm-up
// runs, then the median of 5), and the WebGPU programs one profiled run used. Then each
// precision's relative error on one product against the float64 reference. One JSON line per
// result, appended to RESULTS.
import { appendFileSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { medianRunMs } from './session-timing.mjs';

const [ortDir, dir, results] = process.argv.slice(2);
const ort = createRequire(import.meta.url)(ortDir);
const plan = JSON.parse(readFileSync(`${dir}/plan.json`, 'utf8'));

function record(entry) {
  const line = JSON.stringify(entry);
  console.log(line);
  appendFileSync(results, `${line}\n`);
}

const isHalf = (kind) => kind !== 'fp32';

function input(kind, m, k) {
  if (!isHalf(kind)) {
    const values = new Float32Array(m * k);
    for (let i = 0; i < values.length; i++) values[i] = (i % 977) / 977 - 0.5;
    return new ort.Tensor('float32', values, [m, k]);
  }
  const bits = new Uint16Array(m * k);
  for (let i = 0; i < bits.length; i++) bits[i] = 0x3000 + (i % 977); // small fp16 values
  return new ort.Tensor('float16', bits, [m, k]);
}

function fromHalf(h) {
  const exponent = (h >> 10) & 31;
  const mantissa = h & 1023;
  const magnitude =
    exponent === 0
      ? mantissa * 2 ** -24
      : exponent === 31
        ? Number.POSITIVE_INFINITY
        : (1 + mantissa / 1024) * 2 ** (exponent - 15);
  return h >> 15 ? -magnitude : magnitude;
}

const options = { executionProviders: ['webgpu'], logSeverityLevel: 3 };

for (const { graph, kind, k, flops_per_row: flopsPerRow, m_values: mValues } of plan) {
  let session;
  try {
    session = await ort.InferenceSession.create(`${dir}/${graph}.onnx`, options);
  } catch (error) {
    record({ graph, error: String(error).slice(0, 400) });
    continue;
  }
  for (const m of mValues) {
    try {
      const x = input(kind, m, k);
      const ms = await medianRunMs(session, { x });
      const tflops = (flopsPerRow * m) / ms / 1e9;
      record({ stage: 'speed', graph, m, ms: +ms.toFixed(3), tflops: +tflops.toFixed(2) });
    } catch (error) {
      record({ graph, m, error: String(error).slice(0, 400) });
    }
  }
  await session.release();

  try {
    const prefix = `prof_${graph}`;
    const profiled = await ort.InferenceSession.create(`${dir}/${graph}.onnx`, {
      ...options,
      enableProfiling: true,
      profileFilePrefix: `${dir}/${prefix}`,
    });
    for (let i = 0; i < 2; i++) await profiled.run({ x: input(kind, 2048, k) });
    profiled.endProfiling?.();
    await profiled.release();
    const names = new Set();
    for (const file of readdirSync(dir).filter((f) => f.startsWith(prefix))) {
      for (const event of JSON.parse(readFileSync(`${dir}/${file}`, 'utf8'))) {
        if (event.cat !== 'Session') names.add(`${event.cat}:${event.name}`);
      }
    }
    record({ stage: 'programs', graph, names: [...names].slice(0, 40) });
  } catch (error) {
    record({ stage: 'programs', graph, error: String(error).slice(0, 400) });
  }
}

const reference = new Float32Array(readFileSync(`${dir}/acc_ref.bin`).buffer.slice(0));
for (const kind of ['fp32', 'fp16', 'q8', 'q4']) {
  try {
    const session = await ort.InferenceSession.create(`${dir}/acc_${kind}.onnx`, options);
    const raw = readFileSync(`${dir}/acc_x${isHalf(kind) ? 16 : 32}.bin`);
    const bytes = raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.length);
    const x = isHalf(kind)
      ? new ort.Tensor('float16', new Uint16Array(bytes), [512, 1024])
      : new ort.Tensor('float32', new Float32Array(bytes), [512, 1024]);
    const out = (await session.run({ x })).y.data;
    const y = isHalf(kind) ? Float32Array.from(out, fromHalf) : out;
    let squaredError = 0;
    let squaredReference = 0;
    let maxAbs = 0;
    for (let i = 0; i < reference.length; i++) {
      const d = y[i] - reference[i];
      squaredError += d * d;
      squaredReference += reference[i] * reference[i];
      maxAbs = Math.max(maxAbs, Math.abs(d));
    }
    record({ stage: 'accuracy', kind, rel: Math.sqrt(squaredError / squaredReference), maxAbs });
    await session.release();
  } catch (error) {
    record({ stage: 'accuracy', kind, error: String(error).slice(0, 400) });
  }
}
