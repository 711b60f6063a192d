import type { FileMetaData, SchemaTree } from 'hyparquet';
import { parquetSchema } from 'hyparquet';
import { DatasetError } from '../../core/errors.js';

/** Where a shard keeps each part of an item. Only `image` is required. */
export interface ParquetColumns {
  /** `struct`: Hugging Face `Image` feature {bytes, path}; `binary`: the encoded bytes. */
  image: { name: string; kind: 'struct' | 'binary' };
  id?: string;
  caption?: string;
  concepts?: string;
}

/** Column names tried in this order (case-insensitive). */
const IMAGE_NAMES = Object.freeze(['image', 'img', 'jpg', 'jpeg', 'png', 'image_bytes']);
const ID_NAMES = Object.freeze(['image_id', 'id', 'imageid', 'image_name', 'uid', '__key__']);
const CAPTION_NAMES = Object.freeze(['caption', 'captions', 'text', 'references']);
const CONCEPT_NAMES = Object.freeze(['cui', 'cuis', 'concepts']);

/** Finds the image, id, caption and concept columns of a shard from its schema. */
export function parquetColumns(metadata: FileMetaData, file: string): ParquetColumns {
  const children = parquetSchema(metadata).children;
  const byName = (names: readonly string[]) => {
    for (const name of names) {
      const found = children.find((c) => c.element.name.toLowerCase() === name);
      if (found) return found;
    }
    return undefined;
  };
  const named = byName(IMAGE_NAMES);
  const image = named ?? children.find((c) => imageKind(c) === 'struct');
  const all = children.map((c) => c.element.name).join(', ');
  if (!image) {
    throw new DatasetError(
      `${file}: no image column (looked for ${IMAGE_NAMES.join(', ')} or a {bytes, path} struct; found: ${all})`,
    );
  }
  const kind = imageKind(image);
  if (!kind) {
    throw new DatasetError(
      `${file}: column '${image.element.name}' does not hold image bytes (expected binary or a {bytes, path} struct)`,
    );
  }
  const columns: ParquetColumns = { image: { name: image.element.name, kind } };
  const id = byName(ID_NAMES);
  if (id) columns.id = id.element.name;
  const caption = byName(CAPTION_NAMES);
  if (caption) columns.caption = caption.element.name;
  const concepts = byName(CONCEPT_NAMES);
  if (concepts) columns.concepts = concepts.element.name;
  return columns;
}

function imageKind(column: SchemaTree): 'struct' | 'binary' | undefined {
  const bytes = column.children.find((c) => c.element.name === 'bytes');
  if (bytes && isBinary(bytes)) return 'struct';
  if (column.children.length === 0 && isBinary(column)) return 'binary';
  return undefined;
}

/** A BYTE_ARRAY leaf that is not annotated as text. */
function isBinary(column: SchemaTree): boolean {
  const element = column.element;
  return (
    column.children.length === 0 &&
    element.type === 'BYTE_ARRAY' &&
    element.converted_type !== 'UTF8' &&
    element.converted_type !== 'JSON' &&
    element.logical_type?.type !== 'STRING' &&
    element.logical_type?.type !== 'JSON'
  );
}

/** An id cell as text: strings trimmed, numbers and bigints printed, anything else empty. */
export function idText(value: unknown): string {
  if (typeof value === 'string') return value.trim();
  if (typeof value === 'number' || typeof value === 'bigint') return String(value);
  return '';
}

/** A caption cell (one string or a list of strings) as a list of references. */
export function referenceList(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (Array.isArray(value)) return value.filter((v): v is string => typeof v === 'string');
  return [];
}

/**
 * A CUI cell: a list of strings, or one string with the CUIs separated by `;`, `,`, `|` or
 * spaces (also the `['C0040405', 'C1306645']` form some exports leave behind).
 */
export function conceptList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map((v) => String(v).trim()).filter(Boolean);
  if (typeof value === 'string') return value.match(/[^\s;,|'"[\]]+/g) ?? [];
  return [];
}
