import type { DatasetFormat } from '../datasets/types.js';
import type { ImageEncoding } from '../engines/types.js';
import type { FrameChoice } from '../images/dicom/decode.js';

export interface CommonConfig {
  out: string;
  split: string;
  logFormat: 'text' | 'json';
  quiet: boolean;
  config?: string;
}

export interface CaptionConfig extends CommonConfig {
  data: string;
  format: DatasetFormat | 'auto';
  /** Infinity for every item. */
  limit: number;
  engine: 'transformers' | 'openai';
  model: string;
  device: 'cpu' | 'webgpu' | 'cuda' | 'auto';
  dtype?: string;
  offline: boolean;
  batchSize: number | 'auto';
  maxNewTokens: number;
  prompt: string;
  imageSize?: number;
  minPixels: number;
  maxPixels: number;
  cache: boolean;
  /** Bytes. */
  cacheMemory: number;
  /** Bytes. */
  memoryLimit?: number;
  prefetch: number;
  checkpointEvery: number;
  keepCheckpoints: number;
  /** Seconds; 0: no limit (pipeline/hang-watchdog.ts). */
  batchTimeout: number;
  resume: boolean;
  retryFailed: boolean;
  overwrite: boolean;
  shard?: { index: number; count: number };
  window?: [number, number];
  /** DICOM multi-frame: a 1-based frame number, or which one. */
  frame: FrameChoice;
  endpoint: string[];
  concurrency: number;
  /** Seconds. */
  timeout: number;
  retries: number;
  imageEncoding: ImageEncoding;
}

export type MetricId = 'bleu' | 'rouge' | 'meteor' | 'cider' | 'bertscore';

export interface EvaluateConfig extends CommonConfig {
  captions: string;
  metrics: MetricId[];
  bertscore: boolean;
  tokenizer: 'coco' | 'whitespace';
  bootstrap: number;
  bertscoreModel: string;
  bertscoreIdf: boolean;
  /** Where the BERTScore encoder runs. */
  bertscoreDevice: 'cpu' | 'webgpu' | 'cuda' | 'auto';
  /** Precision of the BERTScore encoder's matrix products (auto: fp16 on a GPU). */
  bertscoreDtype: 'auto' | 'fp32' | 'fp16' | 'q8';
  bertscoreBatchSize?: number;
  /** Hidden layer for BERTScore (bert_score's num_layers); unset: the model's default. */
  bertscoreLayer?: number;
  /** bert_score baseline file to rescale BERTScore with; unset: raw values. */
  bertscoreBaseline?: string;
  rougeStemmer: boolean;
  seed: number;
}
