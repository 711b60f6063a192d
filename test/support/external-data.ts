// Writes a copy of an ONNX model whose initializers keep their bytes in one external data
// file, as large exports do (weights over 2 GB cannot live in the protobuf): a test fixture
// for the paths that must keep finding that file.
import { appendFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  GRAPH_FIELDS,
  type GraphEdits,
  readGraphField,
  readOnnxGraph,
  writeEditedModel,
} from '../../src/formats/onnx/graph.js';
import { encodeVarint, lengthDelimited } from '../../src/formats/onnx/protobuf.js';

const RAW_DATA = 9;
const EXTERNAL_DATA = 13;
const DATA_LOCATION = 14;
const EXTERNAL = 1;

function readVarint(bytes: Buffer, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    const byte = bytes[pos++]!;
    value += (byte & 0x7f) * scale;
    if (byte < 0x80) return [value, pos];
    scale *= 128;
  }
}

/** The fields of a message: each with its bytes (tag included) and, if length-delimited, value. */
function fields(bytes: Buffer): { field: number; whole: Buffer; value?: Buffer }[] {
  const out: { field: number; whole: Buffer; value?: Buffer }[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    const start = pos;
    const [tag, afterTag] = readVarint(bytes, pos);
    const wire = tag & 7;
    pos = afterTag;
    let value: Buffer | undefined;
    if (wire === 0) pos = readVarint(bytes, pos)[1];
    else if (wire === 1) pos += 8;
    else if (wire === 5) pos += 4;
    else if (wire === 2) {
      const [length, afterLength] = readVarint(bytes, pos);
      value = bytes.subarray(afterLength, afterLength + length);
      pos = afterLength + length;
    } else throw new Error(`wire type ${wire} in a TensorProto`);
    out.push({ field: tag >>> 3, whole: bytes.subarray(start, pos), ...(value ? { value } : {}) });
  }
  return out;
}

function entry(key: string, value: string): Buffer {
  return lengthDelimited(
    EXTERNAL_DATA,
    Buffer.concat([
      lengthDelimited(1, Buffer.from(key, 'utf8')),
      lengthDelimited(2, Buffer.from(value, 'utf8')),
    ]),
  );
}

/**
 * Copies `model` to `folder/name` with every initializer's raw_data moved to
 * `folder/dataName`; returns how many initializers were moved. With `minBytes`, smaller ones
 * stay inside, as the exporters keep shape constants (onnx's size_threshold, 1 KB by default).
 */
export async function writeWithExternalData(
  model: string,
  folder: string,
  name: string,
  dataName: string,
  minBytes = 0,
): Promise<number> {
  const graph = readOnnxGraph(model);
  await writeFile(join(folder, dataName), '');
  const replace = new Map<(typeof graph.layout.fields)[number], Buffer[]>();
  let offset = 0;
  for (const span of graph.layout.fields) {
    if (span.field !== GRAPH_FIELDS.initializer) continue;
    const [tensor] = fields(readGraphField(graph, span));
    const parts = fields(tensor!.value!);
    const raw = parts.find((p) => p.field === RAW_DATA)?.value;
    if (!raw || raw.length === 0 || raw.length < minBytes) continue;
    await appendFile(join(folder, dataName), raw);
    const content = Buffer.concat([
      ...parts.filter((p) => p.field !== RAW_DATA).map((p) => p.whole),
      entry('location', dataName),
      entry('offset', String(offset)),
      entry('length', String(raw.length)),
      Buffer.concat([encodeVarint((DATA_LOCATION << 3) | 0), encodeVarint(EXTERNAL)]),
    ]);
    replace.set(span, [lengthDelimited(GRAPH_FIELDS.initializer, content)]);
    offset += raw.length;
  }
  const edits: GraphEdits = { replace, append: [] };
  await writeEditedModel(graph, edits, join(folder, name));
  return replace.size;
}
