// The time of one ONNX Runtime session run, for the GPU probes (gpu-ceiling.mjs,
// gpu-matmul-probe.mjs): 7 runs, the first 2 as warm-up, the median of the other 5, in ms.
export async function medianRunMs(session, feeds) {
  const times = [];
  for (let i = 0; i < 7; i++) {
    const started = performance.now();
    const out = await session.run(feeds);
    times.push(performance.now() - started);
    for (const tensor of Object.values(out)) tensor.dispose?.();
  }
  return times.slice(2).sort((a, b) => a - b)[2];
}
