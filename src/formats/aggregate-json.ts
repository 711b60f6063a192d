/**
 * Reading `medical_{split}_aggregate.json` back (the report, compare): the file
 * formatAggregateJson writes (metric-files.ts), checked field by field, so that a damaged
 * or foreign file is an error naming it. A module of its own: zod is loaded only by the
 * commands that read the file, not by evaluate, which writes it.
 */
import { z } from 'zod';
import { DatasetError } from '../core/errors.js';

/** One metric's summary, as far as readers use it (non-numbers read as null). */
export interface AggregateMetric {
  corpus: number | null;
  mean: number | null;
  std: number | null;
  median: number | null;
  min: number | null;
  max: number | null;
  ci95: [number, number] | null;
}

/** `medical_{split}_aggregate.json`, as far as readers use it. */
export interface Aggregate {
  split?: string;
  n?: number;
  metrics: Partial<Record<string, AggregateMetric>>;
  run?: Record<string, unknown>;
}

const nullableNumber = z
  .union([z.number(), z.null(), z.string()])
  .optional()
  .transform((v) => (typeof v === 'number' && Number.isFinite(v) ? v : null));

const aggregateMetricSchema = z.object({
  corpus: nullableNumber,
  mean: nullableNumber,
  std: nullableNumber,
  median: nullableNumber,
  min: nullableNumber,
  max: nullableNumber,
  ci95: z
    .union([z.tuple([z.number(), z.number()]), z.null()])
    .optional()
    .transform((v) => v ?? null),
});

const aggregateSchema = z.object({
  split: z.string().optional(),
  n: z.number().optional(),
  metrics: z.record(z.string(), aggregateMetricSchema).default({}),
  run: z.record(z.string(), z.unknown()).optional(),
});

/** Parses and checks `medical_{split}_aggregate.json`; errors name the file and the field. */
export function parseAggregate(text: string, path: string): Aggregate {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new DatasetError(`${path}: not valid JSON: ${(error as Error).message}`, {
      cause: error,
    });
  }
  const parsed = aggregateSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.') || '(top level)'}: ${issue.message}`)
      .join('; ');
    throw new DatasetError(`${path}: unexpected content: ${problems}`);
  }
  return parsed.data as Aggregate;
}
