import { createHash } from 'node:crypto';
import { mkdir, readdir, realpath, rename, rm, stat, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { temporarySibling } from '../../core/files.js';
import type { Logger } from '../../core/logger.js';
import { placeExternalData } from '../../formats/onnx/external-data.js';
import {
  type FieldSpan,
  GRAPH_FIELDS,
  type GraphEdits,
  graphOutputField,
  type OnnxGraph,
  readGraphField,
  readOnnxGraph,
  writeEditedModel,
} from '../../formats/onnx/graph.js';
import { encodeNode, encodeRawTensor, FLOAT, FLOAT16 } from '../../formats/onnx/half-precision.js';
import { lengthDelimited } from '../../formats/onnx/protobuf.js';

/**
 * The decoder graph as exported computes the LM head (hidden → 151,936 vocabulary logits) for
 * every prompt position, though generation reads only the last one: for a batch of 32 prompts
 * of ~290 tokens that is 5.6 GB of fp32 logits per first step. The rewrite slices the hidden
 * states to the last position before the LM head, so `logits` has sequence length 1, and
 * gives fp16 logits back as fp32.
 */

const LOGITS = 'logits';
/** Ops that produce the logits from the last hidden states. */
const LM_HEAD_OPS = new Set(['MatMul', 'MatMulNBits', 'Gemm']);
/** Ops that may sit between the LM head and the `logits` output (dtype casts). */
const PASS_THROUGH = new Set(['Cast', 'Identity']);
const INT64 = 7;

export interface LastPositionPlan {
  edits: GraphEdits;
  /** The LM head node's name (for logs). */
  lmHead: string;
}

function int64Initializer(name: string, value: bigint): Buffer {
  const raw = Buffer.alloc(8);
  raw.writeBigInt64LE(value);
  return lengthDelimited(GRAPH_FIELDS.initializer, encodeRawTensor(name, [1], INT64, raw));
}

/** Reads a varint from buf at pos: [value, next position]. */
function varintAt(buf: Buffer, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (let i = pos; i < buf.length; i++) {
    const b = buf[i]!;
    value += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) return [value, i + 1];
  }
  throw new Error('truncated varint');
}

const NODE_INPUT = 1;
const NODE_OUTPUT = 2;

/**
 * A graph's node field (tag included) with the first value of its field `field` (NODE_INPUT
 * or NODE_OUTPUT) renamed; every other field of the node (attributes, domain) is kept byte
 * for byte.
 */
export function withFirstRenamed(nodeField: Buffer, field: number, name: string): Buffer {
  const [, afterTag] = varintAt(nodeField, 0);
  const [length, start] = varintAt(nodeField, afterTag);
  const payload = nodeField.subarray(start, start + length);
  const parts: Buffer[] = [];
  let replaced = false;
  for (let pos = 0; pos < payload.length; ) {
    const [tag, afterFieldTag] = varintAt(payload, pos);
    const wire = tag % 8;
    let end: number;
    if (wire === 0) end = varintAt(payload, afterFieldTag)[1];
    else if (wire === 1) end = afterFieldTag + 8;
    else if (wire === 5) end = afterFieldTag + 4;
    else if (wire === 2) {
      const [n, valueStart] = varintAt(payload, afterFieldTag);
      end = valueStart + n;
    } else throw new Error(`unsupported wire type ${wire} in a node`);
    if (!replaced && tag === field * 8 + 2) {
      parts.push(lengthDelimited(field, Buffer.from(name, 'utf8')));
      replaced = true;
    } else parts.push(payload.subarray(pos, end));
    pos = end;
  }
  return lengthDelimited(GRAPH_FIELDS.node, Buffer.concat(parts));
}

/**
 * The edits that make the decoder compute logits for the last position only, or a reason why
 * this graph cannot be rewritten (then it is used as it is).
 */
export function planLastPositionLogits(graph: OnnxGraph): LastPositionPlan | string {
  const output = graph.outputs.find((o) => o.name === LOGITS);
  if (!output) return `the graph has no '${LOGITS}' output`;
  const producer = new Map<string, number>();
  graph.nodes.forEach((node, i) => {
    for (const out of node.outputs) producer.set(out, i);
  });
  const consumers = new Map<string, number>();
  for (const node of graph.nodes) {
    for (const input of node.inputs) consumers.set(input, (consumers.get(input) ?? 0) + 1);
  }
  const path = new Set<string>([LOGITS]);
  let index = producer.get(LOGITS);
  while (index !== undefined && PASS_THROUGH.has(graph.nodes[index]!.opType)) {
    const input = graph.nodes[index]!.inputs[0] ?? '';
    path.add(input);
    index = producer.get(input);
  }
  if (index === undefined) return `no node computes '${LOGITS}' at the top level of the graph`;
  const head = graph.nodes[index]!;
  if (!LM_HEAD_OPS.has(head.opType))
    return `'${LOGITS}' comes from a ${head.opType} node, not a MatMul`;
  const hidden = head.inputs[0];
  if (!hidden) return 'the LM head has no input';
  // Other readers of the full hidden states keep reading them; only the head gets the slice.
  const headField = graph.layout.fields.find((f) => f.node === index);
  if (!headField) return 'the LM head node was not found in the file';

  const prefix = `${hidden}/medcap_last_position`;
  const last = `${prefix}/output`;
  const names = { starts: `${prefix}/starts`, ends: `${prefix}/ends`, axes: `${prefix}/axes` };
  const slice = lengthDelimited(
    GRAPH_FIELDS.node,
    encodeNode('Slice', prefix, [hidden, names.starts, names.ends, names.axes], last),
  );
  let headNode = withFirstRenamed(readGraphField(graph, headField), NODE_INPUT, last);
  const replace = new Map<FieldSpan, Buffer[]>();
  // fp16 logits become fp32 here: Transformers.js converts them to fp32 in JavaScript at each
  // step (45 ms for a batch of 64 x 151,936), the GPU in microseconds; the values are exact.
  const half = output.elemType === FLOAT16;
  const castFrom = `${LOGITS}/medcap_fp16`;
  const cast = lengthDelimited(
    GRAPH_FIELDS.node,
    encodeNode('Cast', `${castFrom}/cast_fp32`, [castFrom], LOGITS, FLOAT),
  );
  const logitsIndex = producer.get(LOGITS)!;
  if (half && logitsIndex === index) {
    headNode = Buffer.concat([withFirstRenamed(headNode, NODE_OUTPUT, castFrom), cast]);
  } else if (half) {
    const logitsField = graph.layout.fields.find((f) => f.node === logitsIndex);
    if (!logitsField) return `the node computing '${LOGITS}' was not found in the file`;
    replace.set(logitsField, [
      withFirstRenamed(readGraphField(graph, logitsField), NODE_OUTPUT, castFrom),
      cast,
    ]);
  }
  replace.set(headField, [slice, headNode]);
  for (const f of graph.layout.fields) {
    if (f.field === GRAPH_FIELDS.output && f.name === LOGITS) {
      replace.set(f, [graphOutputField(LOGITS, half ? FLOAT : (output.elemType ?? FLOAT))]);
    } else if (f.field === GRAPH_FIELDS.valueInfo && f.name !== undefined && path.has(f.name)) {
      replace.set(f, []); // its declared shape has the full sequence length
    }
  }
  return {
    lmHead: head.name,
    edits: {
      replace,
      append: [
        int64Initializer(names.starts, -1n),
        int64Initializer(names.ends, 9223372036854775807n),
        int64Initializer(names.axes, 1n),
      ],
    },
  };
}

async function linkAll(from: string, to: string, except: string): Promise<void> {
  await mkdir(to, { recursive: true });
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const source = join(from, entry.name);
    if (source === except) continue;
    if (entry.name === 'onnx' && entry.isDirectory()) {
      await linkAll(source, join(to, entry.name), except);
    } else await symlink(source, join(to, entry.name));
  }
}

/**
 * A model folder whose `decoderFile` (a path inside `folder`) computes last-position logits
 * only: made once under `<cacheDir>/.medcap-derived/last-logits/`, keyed by the decoder file's
 * path, size and modification time, with links to the model's other files. Returns `folder`
 * itself when the decoder cannot be rewritten (with a warning saying why).
 */
export async function lastPositionModelFolder(
  folder: string,
  decoderFile: string,
  cacheDir: string,
  logger: Logger,
): Promise<string> {
  const sourceFolder = await realpath(folder);
  const decoder = join(sourceFolder, decoderFile);
  const info = await stat(decoder).catch(() => undefined);
  if (!info) return folder; // Transformers.js reports the missing file
  const source = await realpath(decoder);
  const key = createHash('sha256')
    .update(JSON.stringify(['v3', sourceFolder, source, info.size, info.mtimeMs]))
    .digest('hex')
    .slice(0, 16);
  const name = `${basename(sourceFolder).replace(/[^\w.-]/g, '_')}-${key}`;
  const target = join(cacheDir, '.medcap-derived', 'last-logits', name);
  if (await stat(join(target, decoderFile)).catch(() => undefined)) return target;

  const graph = readOnnxGraph(source);
  const plan = planLastPositionLogits(graph);
  if (typeof plan === 'string') {
    logger.warn(`${decoder}: cannot restrict the LM head to the last position (${plan})`);
    return folder;
  }
  logger.info(`writing a copy of ${decoder} whose LM head runs on the last position only (once)`);
  const building = temporarySibling(target);
  try {
    await linkAll(sourceFolder, building, decoder);
    await placeExternalData(
      graph,
      source,
      dirname(join(building, decoderFile)),
      logger,
      'the rewritten decoder',
    );
    await writeEditedModel(graph, plan.edits, join(building, decoderFile));
    await rename(building, target).catch(async (error) => {
      // another process made it meanwhile: use theirs
      if (await stat(join(target, decoderFile)).catch(() => undefined)) return;
      throw error;
    });
  } finally {
    await rm(building, { recursive: true, force: true });
  }
  return target;
}
