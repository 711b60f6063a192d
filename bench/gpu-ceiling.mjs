// The matrix-product ceiling through ONNX Runtime for Node (bench/gpu-caption.sh), plain Node:
//   node bench/gpu-ceiling.mjs ONNXRUNTIME_NODE_DIR GRAPH_DIR RESULTS DEVICE
// Runs each chain that bench/gpu_ceiling.py built (GRAPH_DIR/plan.json) at each M on DEVICE
// (webgpu or cpu), 2 warm-up runs then the median of 5, the fp16 input copied in and the
// output copied out every run as medcap's sessions do, and appends one JSON line per
// (graph, M) to RESULTS.
import { appendFileSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { medianRunMs } from './session-timing.mjs';

const [ortDir, graphDir, results, device] = process.argv.slice(2);
const ort = createRequire(import.meta.url)(ortDir);
const plan = JSON.parse(readFileSync(`${graphDir}/plan.json`, 'utf8'));
const maxM = Number(process.env.BENCH_CEILING_MAX_M ?? Infinity);
const engine = `ort-${device}`;

for (const { graph, k, n, matmuls, m_values: mValues } of plan) {
  let session;
  try {
    session = await ort.InferenceSession.create(`${graphDir}/${graph}.onnx`, {
      executionProviders: [device],
      logSeverityLevel: 3,
    });
  } catch (error) {
    record({ graph, error: String(error).slice(0, 300) });
    continue;
  }
  for (const m of mValues.filter((v) => v <= maxM)) {
    const input = new Uint16Array(m * k);
    for (let i = 0; i < input.length; i++) input[i] = 0x3000 + (i % 977); // small fp16 values
    const x = new ort.Tensor('float16', input, [m, k]);
    try {
      const ms = await medianRunMs(session, { x });
      const flops = matmuls * 2 * m * k * n;
      record({
        graph,
        m,
        ms: Number(ms.toFixed(3)),
        tflops: Number((flops / ms / 1e9).toFixed(2)),
      });
    } catch (error) {
      record({ graph, m, error: String(error).slice(0, 300) });
    }
  }
  await session.release();
}

function record(entry) {
  const line = JSON.stringify({ stage: 'ceiling', engine, ...entry });
  console.log(line);
  appendFileSync(results, `${line}\n`);
}
