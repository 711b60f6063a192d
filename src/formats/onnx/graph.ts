import { closeSync, fstatSync, openSync, readSync, renameSync, writeSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { temporarySibling } from '../../core/files.js';
import {
  MS_DOMAIN,
  quantizable,
  quantizedMatMulNodes,
  quantizedWeightTensors,
  quantizeWeight,
} from './block-quantized.js';
import {
  encodeNode,
  halfMatMulNodes,
  halfWeightTensor,
  opsetImportField,
  parseFloatTensor,
} from './half-precision.js';
import { encodeVarint, lengthDelimited } from './protobuf.js';

/**
 * Just enough of the ONNX protobuf format (onnx.proto field numbers) to read a model's node
 * list and outputs without loading its weights, and to write a copy that outputs one inner
 * tensor and keeps only what that tensor needs. Weights are skipped by their length when
 * reading and copied as byte ranges when writing, so a 1.4 GB model costs a few MB of memory.
 */

const WIRE_VARINT = 0;
const WIRE_I64 = 1;
const WIRE_LEN = 2;
const WIRE_I32 = 5;

/** ModelProto.graph */
const MODEL_GRAPH = 7;
/** ModelProto.opset_import */
const MODEL_OPSET_IMPORT = 8;
/** GraphProto fields. */
const GRAPH_NODE = 1;
const GRAPH_INITIALIZER = 5;
const GRAPH_INPUT = 11;
const GRAPH_OUTPUT = 12;
const GRAPH_VALUE_INFO = 13;
/** TensorProto fields. */
const TENSOR_NAME = 8;
const TENSOR_EXTERNAL_DATA = 13;

export interface OnnxNode {
  name: string;
  opType: string;
  inputs: string[];
  outputs: string[];
}

export interface OnnxValue {
  name: string;
  /** TensorProto.DataType of a tensor value (1 = float32), when declared. */
  elemType?: number;
}

/** A field of GraphProto: where its bytes lie in the file (tag included). */
export interface FieldSpan {
  field: number;
  start: number;
  end: number;
  /** Name of the initializer / input / output / value_info this field declares. */
  name?: string;
  /** Index into `nodes` for a node field. */
  node?: number;
}

export interface OnnxGraph {
  path: string;
  fileSize: number;
  nodes: OnnxNode[];
  inputs: OnnxValue[];
  outputs: OnnxValue[];
  /** Files the initializers keep their data in (external data), relative to the model. */
  externalData: string[];
  /** Operator set domains the model imports ('' is ONNX's own). */
  opsetDomains: string[];
  /** Internal: byte layout used by writePrunedModel. */
  readonly layout: {
    graphStart: number;
    graphEnd: number;
    graphContentStart: number;
    fields: FieldSpan[];
  };
}

export class OnnxFormatError extends Error {
  constructor(path: string, detail: string) {
    super(`${path} is not a readable ONNX model: ${detail}`);
    Object.defineProperty(this, 'name', { value: 'OnnxFormatError', enumerable: false });
  }
}

/** Positional reads from a file through a small window, for protobuf parsing. */
class FileWindow {
  private buffer = Buffer.alloc(1 << 16);
  private bufferStart = 0;
  private bufferLength = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly path: string,
  ) {}

  byte(pos: number): number {
    if (pos < this.bufferStart || pos >= this.bufferStart + this.bufferLength) {
      if (pos >= this.size) throw new OnnxFormatError(this.path, `truncated at byte ${pos}`);
      this.bufferLength = readSync(this.fd, this.buffer, 0, this.buffer.length, pos);
      this.bufferStart = pos;
    }
    return this.buffer[pos - this.bufferStart]!;
  }

  bytes(pos: number, length: number): Buffer {
    if (pos + length > this.size) throw new OnnxFormatError(this.path, `truncated at byte ${pos}`);
    const out = Buffer.alloc(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.fd, out, done, length - done, pos + done);
      if (n <= 0) throw new OnnxFormatError(this.path, `short read at byte ${pos + done}`);
      done += n;
    }
    return out;
  }

  /** Varint at pos: [value, next position]. Values above 2^53 lose precision (lengths never are). */
  varint(pos: number): [number, number] {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = this.byte(pos + i);
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return [value, pos + i + 1];
    }
    throw new OnnxFormatError(this.path, `bad varint at byte ${pos}`);
  }
}

interface FieldHeader {
  field: number;
  wire: number;
  /** Start of the value (after tag, and after the length for LEN fields). */
  valueStart: number;
  /** End of the whole field. */
  end: number;
}

function readField(w: FileWindow, pos: number, limit: number, path: string): FieldHeader {
  const [tag, afterTag] = w.varint(pos);
  const field = Math.floor(tag / 8);
  const wire = tag % 8;
  let valueStart = afterTag;
  let end: number;
  switch (wire) {
    case WIRE_VARINT:
      end = w.varint(afterTag)[1];
      break;
    case WIRE_I64:
      end = afterTag + 8;
      break;
    case WIRE_I32:
      end = afterTag + 4;
      break;
    case WIRE_LEN: {
      const [length, afterLength] = w.varint(afterTag);
      valueStart = afterLength;
      end = afterLength + length;
      break;
    }
    default:
      throw new OnnxFormatError(path, `unsupported protobuf wire type ${wire} at byte ${pos}`);
  }
  if (end > limit)
    throw new OnnxFormatError(path, `field ${field} at byte ${pos} runs past its message`);
  return { field, wire, valueStart, end };
}

/** Fields of a small message already in memory. */
function* fieldsOf(
  buf: Buffer,
): Generator<{ field: number; wire: number; value: Buffer | number }> {
  let pos = 0;
  const varint = (): number => {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      const b = buf[pos++];
      if (b === undefined) throw new Error('truncated varint');
      value += (b & 0x7f) * scale;
      scale *= 128;
      if ((b & 0x80) === 0) return value;
    }
    throw new Error('bad varint');
  };
  while (pos < buf.length) {
    const tag = varint();
    const field = Math.floor(tag / 8);
    const wire = tag % 8;
    if (wire === WIRE_VARINT) yield { field, wire, value: varint() };
    else if (wire === WIRE_I64) pos += 8;
    else if (wire === WIRE_I32) pos += 4;
    else if (wire === WIRE_LEN) {
      const length = varint();
      yield { field, wire, value: buf.subarray(pos, pos + length) };
      pos += length;
    } else throw new Error(`unsupported wire type ${wire}`);
  }
}

function parseNode(buf: Buffer): OnnxNode {
  const node: OnnxNode = { name: '', opType: '', inputs: [], outputs: [] };
  for (const { field, value } of fieldsOf(buf)) {
    if (typeof value === 'number') continue;
    if (field === 1) node.inputs.push(value.toString('utf8'));
    else if (field === 2) node.outputs.push(value.toString('utf8'));
    else if (field === 3) node.name = value.toString('utf8');
    else if (field === 4) node.opType = value.toString('utf8');
  }
  return node;
}

function parseValueInfo(buf: Buffer): OnnxValue {
  const out: OnnxValue = { name: '' };
  for (const { field, value } of fieldsOf(buf)) {
    if (typeof value === 'number') continue;
    if (field === 1) out.name = value.toString('utf8');
    else if (field === 2) {
      // TypeProto.tensor_type (1) -> TypeProto.Tensor.elem_type (1)
      for (const t of fieldsOf(value)) {
        if (t.field !== 1 || typeof t.value === 'number') continue;
        for (const e of fieldsOf(t.value)) {
          if (e.field === 1 && typeof e.value === 'number') out.elemType = e.value;
        }
      }
    }
  }
  return out;
}

/** Reads the graph structure of an ONNX file; weights are skipped, not read. */
export function readOnnxGraph(path: string): OnnxGraph {
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    const w = new FileWindow(fd, size, path);
    let graph: FieldHeader | undefined;
    let graphStart = 0;
    const opsetDomains: string[] = [];
    for (let pos = 0; pos < size; ) {
      const f = readField(w, pos, size, path);
      if (f.field === MODEL_GRAPH && f.wire === WIRE_LEN) {
        graph = f;
        graphStart = pos;
      } else if (f.field === MODEL_OPSET_IMPORT && f.wire === WIRE_LEN) {
        // OperatorSetIdProto {domain = 1, version = 2}
        let domain = '';
        for (const e of fieldsOf(w.bytes(f.valueStart, f.end - f.valueStart))) {
          if (e.field === 1 && typeof e.value !== 'number') domain = e.value.toString('utf8');
        }
        opsetDomains.push(domain);
      }
      pos = f.end;
    }
    if (!graph) throw new OnnxFormatError(path, 'no graph');
    const nodes: OnnxNode[] = [];
    const inputs: OnnxValue[] = [];
    const outputs: OnnxValue[] = [];
    const externalData = new Set<string>();
    const fields: FieldSpan[] = [];
    for (let pos = graph.valueStart; pos < graph.end; ) {
      const f = readField(w, pos, graph.end, path);
      const span: FieldSpan = { field: f.field, start: pos, end: f.end };
      if (f.wire === WIRE_LEN) {
        if (f.field === GRAPH_NODE) {
          span.node = nodes.length;
          nodes.push(parseNode(w.bytes(f.valueStart, f.end - f.valueStart)));
        } else if (f.field === GRAPH_INITIALIZER) {
          span.name = readTensorName(w, f, path, externalData);
        } else if (
          f.field === GRAPH_INPUT ||
          f.field === GRAPH_OUTPUT ||
          f.field === GRAPH_VALUE_INFO
        ) {
          const value = parseValueInfo(w.bytes(f.valueStart, f.end - f.valueStart));
          span.name = value.name;
          if (f.field === GRAPH_INPUT) inputs.push(value);
          if (f.field === GRAPH_OUTPUT) outputs.push(value);
        }
      }
      fields.push(span);
      pos = f.end;
    }
    return {
      path,
      fileSize: size,
      nodes,
      inputs,
      outputs,
      externalData: [...externalData],
      opsetDomains,
      layout: { graphStart, graphEnd: graph.end, graphContentStart: graph.valueStart, fields },
    };
  } finally {
    closeSync(fd);
  }
}

/** TensorProto.name, and the `location` of external data, skipping the data itself. */
function readTensorName(
  w: FileWindow,
  tensor: FieldHeader,
  path: string,
  externalData: Set<string>,
): string {
  let name = '';
  for (let pos = tensor.valueStart; pos < tensor.end; ) {
    const f = readField(w, pos, tensor.end, path);
    if (f.wire === WIRE_LEN && f.field === TENSOR_NAME) {
      name = w.bytes(f.valueStart, f.end - f.valueStart).toString('utf8');
    } else if (f.wire === WIRE_LEN && f.field === TENSOR_EXTERNAL_DATA) {
      // StringStringEntryProto {key = 1, value = 2}
      let key = '';
      let value = '';
      for (const e of fieldsOf(w.bytes(f.valueStart, f.end - f.valueStart))) {
        if (typeof e.value === 'number') continue;
        if (e.field === 1) key = e.value.toString('utf8');
        if (e.field === 2) value = e.value.toString('utf8');
      }
      if (key === 'location' && value) externalData.add(value);
    }
    pos = f.end;
  }
  return name;
}

/** ValueInfoProto {name, type: {tensor_type: {elem_type}}}; the shape is left to inference. */
function encodeOutput(name: string, elemType: number): Buffer {
  const tensorType = Buffer.concat([encodeVarint(1 * 8 + WIRE_VARINT), encodeVarint(elemType)]);
  const type = lengthDelimited(1, tensorType);
  return Buffer.concat([lengthDelimited(1, Buffer.from(name, 'utf8')), lengthDelimited(2, type)]);
}

/** The nodes (by index, in graph order) that the tensor depends on. */
export function nodesNeededFor(graph: OnnxGraph, tensor: string): Set<number> {
  const producer = new Map<string, number>();
  graph.nodes.forEach((node, i) => {
    for (const out of node.outputs) producer.set(out, i);
  });
  const needed = new Set<number>();
  const stack = [tensor];
  while (stack.length > 0) {
    const t = stack.pop()!;
    const i = producer.get(t);
    if (i === undefined || needed.has(i)) continue;
    needed.add(i);
    for (const input of graph.nodes[i]!.inputs) if (input) stack.push(input);
  }
  return needed;
}

/**
 * Writes a copy of the model whose only output is `tensor`: nodes that `tensor` does not need
 * are dropped (so ONNX Runtime never computes them), and so are the initializers, value infos
 * and outputs they alone used. Graph inputs stay. Written to a temporary file, then renamed.
 */
export async function writePrunedModel(
  graph: OnnxGraph,
  tensor: string,
  elemType: number,
  destination: string,
  options: {
    /**
     * The weights of the MatMuls: as they are, fp16 (lowPrecisionFields), or 8-bit blocks
     * (where a weight's rows come in whole blocks of 32; fp16 for the others).
     */
    matMulWeights?: 'fp16' | 'q8';
    /**
     * Output unitRowsTensor(tensor) instead: `tensor` ([batch, tokens, hidden]) with each
     * hidden vector scaled to length 1.
     */
    unitRows?: boolean;
  } = {},
): Promise<void> {
  const needed = nodesNeededFor(graph, tensor);
  if (needed.size === 0) throw new Error(`no node of ${graph.path} produces ${tensor}`);
  const used = new Set<string>();
  for (const i of needed) {
    const node = graph.nodes[i]!;
    for (const t of node.inputs) used.add(t);
    for (const t of node.outputs) used.add(t);
  }
  const keep = graph.layout.fields.filter((f) => {
    if (f.field === GRAPH_NODE) return f.node !== undefined && needed.has(f.node);
    if (f.field === GRAPH_OUTPUT) return false;
    if (f.field === GRAPH_INITIALIZER || f.field === GRAPH_VALUE_INFO) {
      return f.name === undefined || used.has(f.name);
    }
    // Old exports list initializers among the inputs too: drop those we dropped.
    if (f.field === GRAPH_INPUT) {
      const isInitializer = graph.layout.fields.some(
        (g) => g.field === GRAPH_INITIALIZER && g.name === f.name,
      );
      return !isInitializer || used.has(f.name ?? '');
    }
    return true;
  });
  const src = openSync(graph.path, 'r');
  let replaced = new Map<FieldSpan, Buffer[]>();
  let quantized = false;
  try {
    if (options.matMulWeights) {
      ({ fields: replaced, quantized } = lowPrecisionFields(
        graph,
        needed,
        keep,
        src,
        options.matMulWeights,
      ));
    }
  } finally {
    closeSync(src);
  }
  const modelAppend =
    quantized && !graph.opsetDomains.includes(MS_DOMAIN) ? [opsetImportField(MS_DOMAIN, 1)] : [];
  const kept = new Set(keep);
  for (const f of graph.layout.fields) if (!kept.has(f)) replaced.set(f, []);
  const output = options.unitRows ? unitRowsTensor(tensor) : tensor;
  const append = [lengthDelimited(GRAPH_OUTPUT, encodeOutput(output, elemType))];
  if (options.unitRows) append.push(lengthDelimited(GRAPH_NODE, unitRowsNode(tensor, output)));
  await writeEditedModel(graph, { replace: replaced, append, modelAppend }, destination);
}

/** The name of the row-normalized copy of `tensor` that writePrunedModel's unitRows adds. */
export function unitRowsTensor(tensor: string): string {
  return `${tensor}/medcap_unit_rows`;
}

/** LpNormalization(p = 2, axis = 2): in ONNX since opset 1, unchanged since. */
function unitRowsNode(input: string, output: string): Buffer {
  return encodeNode('LpNormalization', `${output}/LpNormalization`, [input], output, {
    axis: 2,
    p: 2,
  });
}

function readRange(fd: number, start: number, end: number, path: string): Buffer {
  const out = Buffer.alloc(end - start);
  for (let done = 0; done < out.length; ) {
    const n = readSync(fd, out, done, out.length - done, start + done);
    if (n <= 0) throw new OnnxFormatError(path, `short read at byte ${start + done}`);
    done += n;
  }
  return out;
}

/** The payload of a length-delimited field's bytes (tag and length skipped). */
function payloadOf(field: Buffer): Buffer {
  let pos = 0;
  while (field[pos]! & 0x80) pos++; // tag
  pos++;
  let length = 0;
  let scale = 1;
  for (;;) {
    const b = field[pos++]!;
    length += (b & 0x7f) * scale;
    scale *= 128;
    if ((b & 0x80) === 0) break;
  }
  return field.subarray(pos, pos + length);
}

/**
 * The fields that change when the MatMul weights go to fp16 or 8 bits: each MatMul (of the
 * kept nodes) whose right operand is a 2-D float32 initializer becomes three nodes, and its
 * weight an fp16 or 8-bit copy (the fp32 one stays only where another node still reads it).
 */
function lowPrecisionFields(
  graph: OnnxGraph,
  needed: Set<number>,
  keep: readonly FieldSpan[],
  fd: number,
  form: 'fp16' | 'q8',
): { fields: Map<FieldSpan, Buffer[]>; quantized: boolean } {
  const initializers = new Map<string, FieldSpan>();
  for (const f of keep) if (f.field === GRAPH_INITIALIZER && f.name) initializers.set(f.name, f);
  const readers = new Map<string, number[]>();
  for (const i of needed) {
    for (const input of graph.nodes[i]!.inputs) {
      if (initializers.has(input)) readers.set(input, [...(readers.get(input) ?? []), i]);
    }
  }
  const out = new Map<FieldSpan, Buffer[]>();
  let quantized = false;
  /** The nodes each converted weight's MatMuls become. */
  const converted = new Map<string, (name: string, input: string, output: string) => Buffer[]>();
  for (const [name, span] of initializers) {
    const users = readers.get(name) ?? [];
    const asWeight = users.filter((i) => {
      const node = graph.nodes[i]!;
      return node.opType === 'MatMul' && node.inputs[1] === name && node.inputs[0] !== name;
    });
    if (asWeight.length === 0) continue;
    const proto = payloadOf(readRange(fd, span.start, span.end, graph.path));
    let tensors: Buffer[];
    const tensor = form === 'q8' ? parseFloatTensor(proto) : undefined;
    if (tensor && quantizable(tensor.dims)) {
      const [k, n] = tensor.dims as [number, number];
      const q = quantizedWeightTensors(name, quantizeWeight(tensor.values, k, n), k, n);
      tensors = q.tensors;
      quantized = true;
      converted.set(name, (node, input, output) =>
        quantizedMatMulNodes(node, input, q, { k, n }, output),
      );
    } else {
      const half = halfWeightTensor(proto);
      if (!half) continue;
      tensors = [half.bytes];
      converted.set(name, (node, input, output) => halfMatMulNodes(node, input, half.name, output));
    }
    const parts = tensors.map((t) => lengthDelimited(GRAPH_INITIALIZER, t));
    if (asWeight.length < users.length)
      parts.unshift(readRange(fd, span.start, span.end, graph.path));
    out.set(span, parts);
  }
  for (const f of keep) {
    if (f.field !== GRAPH_NODE || f.node === undefined) continue;
    const node = graph.nodes[f.node]!;
    const nodesFor = node.opType === 'MatMul' ? converted.get(node.inputs[1] ?? '') : undefined;
    if (!nodesFor || node.outputs.length !== 1) continue;
    const name = node.name || `${node.outputs[0]}/MatMul`;
    out.set(
      f,
      nodesFor(name, node.inputs[0]!, node.outputs[0]!).map((n) => lengthDelimited(GRAPH_NODE, n)),
    );
  }
  return { fields: out, quantized };
}

function writeAll(fd: number, data: Buffer): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done);
}

/**
 * Changes to a model's graph: fields replaced (by zero or more fields), fields appended; and
 * fields of the model itself appended after everything else (an opset import).
 */
export interface GraphEdits {
  replace: ReadonlyMap<FieldSpan, readonly Buffer[]>;
  append: readonly Buffer[];
  modelAppend?: readonly Buffer[];
}

/**
 * Writes a copy of the model with `edits` applied to its graph; everything else (weights
 * included) is copied byte for byte. Written to a temporary file, then renamed.
 */
export async function writeEditedModel(
  graph: OnnxGraph,
  edits: GraphEdits,
  destination: string,
): Promise<void> {
  const sizeOf = (parts: readonly Buffer[]) => parts.reduce((n, b) => n + b.length, 0);
  const contentLength =
    graph.layout.fields.reduce((n, f) => {
      const parts = edits.replace.get(f);
      return n + (parts ? sizeOf(parts) : f.end - f.start);
    }, 0) + sizeOf(edits.append);
  const graphHeader = Buffer.concat([
    encodeVarint(MODEL_GRAPH * 8 + WIRE_LEN),
    encodeVarint(contentLength),
  ]);
  const temporary = temporarySibling(destination);
  const src = openSync(graph.path, 'r');
  const dst = openSync(temporary, 'w');
  try {
    const chunk = Buffer.alloc(8 << 20);
    const copy = (start: number, end: number) => {
      for (let pos = start; pos < end; ) {
        const n = readSync(src, chunk, 0, Math.min(chunk.length, end - pos), pos);
        if (n <= 0) throw new OnnxFormatError(graph.path, `short read at byte ${pos}`);
        writeAll(dst, chunk.subarray(0, n));
        pos += n;
      }
    };
    copy(0, graph.layout.graphStart);
    writeAll(dst, graphHeader);
    for (const f of graph.layout.fields) {
      const parts = edits.replace.get(f);
      if (parts) for (const part of parts) writeAll(dst, part);
      else copy(f.start, f.end);
    }
    for (const part of edits.append) writeAll(dst, part);
    copy(graph.layout.graphEnd, graph.fileSize);
    for (const part of edits.modelAppend ?? []) writeAll(dst, part);
    closeSync(dst);
    renameSync(temporary, destination);
  } catch (error) {
    try {
      closeSync(dst);
    } catch {
      // already closed
    }
    await rm(temporary, { force: true });
    throw error;
  } finally {
    closeSync(src);
  }
}

/** The bytes of one field of the graph (tag included), e.g. a node to re-encode. */
export function readGraphField(graph: OnnxGraph, span: FieldSpan): Buffer {
  const fd = openSync(graph.path, 'r');
  try {
    return readRange(fd, span.start, span.end, graph.path);
  } finally {
    closeSync(fd);
  }
}

/** GraphProto.output field declaring `name` with an element type and no shape. */
export function graphOutputField(name: string, elemType: number): Buffer {
  return lengthDelimited(GRAPH_OUTPUT, encodeOutput(name, elemType));
}

export const GRAPH_FIELDS = Object.freeze({
  node: GRAPH_NODE,
  initializer: GRAPH_INITIALIZER,
  output: GRAPH_OUTPUT,
  valueInfo: GRAPH_VALUE_INFO,
});
