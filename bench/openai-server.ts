/**
 * An OpenAI-compatible server that answers every chat request with the same completion,
 * after reading its whole body, at once or after `--delay-ms`. Run in its own process by
 * bench/openai.ts so that its work is not counted as the client's. It counts requests in
 * flight from arrival to the end of the answer: GET /stats returns the count, the most at
 * once and the time-weighted mean, and resets them.
 *
 *   node --import tsx bench/openai-server.ts [--delay-ms N]   (prints its port)
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

const delayIndex = process.argv.indexOf('--delay-ms');
const delayMs = delayIndex > 0 ? Number(process.argv[delayIndex + 1]) : 0;

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 0,
  model: 'bench-vlm',
  choices: [
    {
      index: 0,
      message: { role: 'assistant', content: 'Axial CT of the chest shows no abnormality.' },
      finish_reason: 'stop',
    },
  ],
  usage: { prompt_tokens: 300, completion_tokens: 9, total_tokens: 309 },
});
const MODELS = JSON.stringify({
  object: 'list',
  data: [{ id: 'bench-vlm', object: 'model', created: 0, owned_by: 'bench' }],
});

let inFlight = 0;
let requests = 0;
let bodyBytes = 0;
let max = 0;
let area = 0;
let firstAt = 0;
let lastAt = 0;
function count(change: number): void {
  const now = performance.now();
  if (requests === 0 && change > 0) firstAt = now;
  else area += inFlight * (now - lastAt);
  lastAt = now;
  inFlight += change;
  max = Math.max(max, inFlight);
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/v1/models') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(MODELS);
    return;
  }
  if (req.method === 'GET' && req.url === '/stats') {
    const span = lastAt - firstAt;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        requests,
        bodyBytes,
        maxInFlight: max,
        meanInFlight: span > 0 ? area / span : 0,
      }),
    );
    requests = 0;
    bodyBytes = 0;
    max = 0;
    area = 0;
    return;
  }
  count(+1);
  requests += 1;
  req.on('data', (chunk: Buffer) => {
    bodyBytes += chunk.byteLength;
  });
  req.on('end', () => {
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' }).end(COMPLETION);
      count(-1);
    };
    if (delayMs > 0) setTimeout(answer, delayMs);
    else answer();
  });
});
server.keepAliveTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${(server.address() as AddressInfo).port}\n`);
});
