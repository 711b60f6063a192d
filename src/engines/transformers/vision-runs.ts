/**
 * The vision encoder, one image per run. Transformers.js sends every image of a batch to
 * the vision encoder in one call, and exports of Qwen2-VL's vision tower differ in how they
 * attend across the images of a call. Transformers' own vision attention builds one
 * [patches, patches] block-diagonal mask over every image of the call. That is quadratic in
 * the batch: 64 images of 448x448 make 65,536² scores per head and layer. A graph traced
 * with one image can also bake that image's mask in. One image per run is right and linear
 * for every export. With an export that attends per image anyway, it only gives up the
 * efficiency of larger matrix products (about 12 instead of 15 TFLOP/s on an H100 through
 * WebGPU, docs/PERFORMANCE.md). MEDCAP_VISION_PER_IMAGE=0 keeps one run per batch.
 */

/** What is used of an ONNX Runtime tensor here: CPU data and its constructor. */
export interface RowTensor {
  type: string;
  dims: readonly number[];
  data: ArrayLike<number | bigint> & { subarray(start: number, end: number): unknown };
}

type TensorClass = new (type: string, data: unknown, dims: readonly number[]) => RowTensor;

export interface VisionSession {
  run(feeds: Record<string, unknown>, ...rest: unknown[]): Promise<Record<string, unknown>>;
}

/** [first, end) rows of pixel_values for each image: t·h·w patches per grid_thw row. */
export function imageRowRanges(grid: RowTensor): [number, number][] {
  const images = grid.dims[0] ?? 0;
  const ranges: [number, number][] = [];
  let start = 0;
  for (let i = 0; i < images; i++) {
    const patches =
      Number(grid.data[3 * i]) * Number(grid.data[3 * i + 1]) * Number(grid.data[3 * i + 2]);
    ranges.push([start, start + patches]);
    start += patches;
  }
  return ranges;
}

/** Rows [first, end) of a tensor, sharing its data. */
export function sliceRows(tensor: RowTensor, first: number, end: number): RowTensor {
  const width = tensor.dims.slice(1).reduce((a, b) => a * b, 1);
  const Tensor = tensor.constructor as TensorClass;
  return new Tensor(tensor.type, tensor.data.subarray(first * width, end * width), [
    end - first,
    ...tensor.dims.slice(1),
  ]);
}

/** The tensors stacked along their first dimension (same type and trailing dims). */
export function concatRows(parts: readonly RowTensor[]): RowTensor {
  const first = parts[0]!;
  const rows = parts.reduce((n, p) => n + (p.dims[0] ?? 0), 0);
  const DataArray = first.data.constructor as new (
    length: number,
  ) => {
    set(values: unknown, offset: number): void;
  };
  const total = parts.reduce((n, p) => n + p.data.length, 0);
  const data = new DataArray(total);
  let offset = 0;
  for (const part of parts) {
    data.set(part.data, offset);
    offset += part.data.length;
  }
  const Tensor = first.constructor as TensorClass;
  return new Tensor(first.type, data, [rows, ...first.dims.slice(1)]);
}

/** Makes the session run once per image of `grid_thw`, the outputs stacked in image order. */
export function runVisionPerImage(session: VisionSession): void {
  const run = session.run.bind(session);
  session.run = async (feeds, ...rest) => {
    const pixels = feeds.pixel_values as RowTensor | undefined;
    const grid = feeds.grid_thw as RowTensor | undefined;
    if (!pixels || !grid || (grid.dims[0] ?? 0) < 2) return run(feeds, ...rest);
    const outputs = new Map<string, RowTensor[]>();
    for (const [image, [first, end]] of imageRowRanges(grid).entries()) {
      const one = await run(
        {
          ...feeds,
          pixel_values: sliceRows(pixels, first, end),
          grid_thw: sliceRows(grid, image, image + 1),
        },
        ...rest,
      );
      for (const [name, value] of Object.entries(one)) {
        const parts = outputs.get(name) ?? [];
        parts.push(value as RowTensor);
        outputs.set(name, parts);
      }
    }
    return Object.fromEntries([...outputs].map(([name, parts]) => [name, concatRows(parts)]));
  };
}
