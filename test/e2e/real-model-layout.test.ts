/**
 * onnx-community/Qwen2-VL-2B-Instruct, the default --model, exactly as its Hub repo lays it
 * out, with tiny weights under the real file names.
 *
 * Confirmed from stored Hub pages:
 * - The top-level listing (commit 187b05e,
 *   https://huggingface.co/onnx-community/Qwen2-VL-2B-Instruct/tree/187b05efd51ca56b19489f085aa2d7c7fa5078fc):
 *   .gitattributes 1.93 kB, README.md 8.53 kB, added_tokens.json 392 B, chat_template.json
 *   1.05 kB, config.json 1.33 kB, generation_config.json 215 B, merges.txt 1.67 MB,
 *   preprocessor_config.json 567 B, tokenizer.json 11.4 MB, tokenizer_config.json 4.3 kB,
 *   vocab.json 2.78 MB and an onnx/ folder.
 * - config.json, word for word (commit 214aa9f,
 *   https://huggingface.co/onnx-community/Qwen2-VL-2B-Instruct/blob/214aa9f9bbb9fa4358067a0b7eab6c0587a6ead9/config.json),
 *   in test/fixtures/qwen2-vl-2b-instruct/config.json (1,333 bytes, as listed), including
 *   `transformers.js_config.dtype` = vision_encoder q8, embed_tokens fp16, decoder_model_merged q4:
 *   the precisions `--dtype auto` (or no --dtype) loads.
 * - onnx/vision_encoder_bnb4.onnx exists (1.69 MB, commit f2780c4 "Upload fixed vision encoder (#3)",
 *   https://huggingface.co/onnx-community/Qwen2-VL-2B-Instruct/blob/f2780c49a3f51a1abbb50828d52ba4f7b030920b/onnx/vision_encoder_bnb4.onnx).
 * - The fp32 and fp16 decoders keep their weights in external data files on main:
 *   onnx/decoder_model_merged.onnx_data, 6.17 GB (64c410b,
 *   https://huggingface.co/onnx-community/Qwen2-VL-2B-Instruct/blob/main/onnx/decoder_model_merged.onnx_data)
 *   and onnx/decoder_model_merged_fp16.onnx_data, 3.09 GB (fa52575,
 *   https://huggingface.co/onnx-community/Qwen2-VL-2B-Instruct/blob/main/onnx/decoder_model_merged_fp16.onnx_data).
 *   The cache below has both, beside graphs that point at them (214aa9f's config.json does not
 *   name them, so ONNX Runtime reads them by the graph's own reference).
 * - The model card (https://huggingface.co/onnx-community/Qwen2-VL-2B-Instruct) loads it with
 *   AutoProcessor + Qwen2VLForConditionalGeneration, as medcap does.
 *
 * Inferred, not recorded in the stored pages:
 * - The other names under onnx/: for each of vision_encoder, embed_tokens and
 *   decoder_model_merged, the eight files Transformers.js' converter writes (fp32 '', _fp16,
 *   _int8, _uint8, _quantized, _q4, _q4f16, _bnb4); only vision_encoder_bnb4.onnx is confirmed,
 *   and no ONNX file size except its 1.69 MB.
 * - preprocessor_config.json, generation_config.json and chat_template.json: the upstream
 *   Qwen/Qwen2-VL-2B-Instruct contents as other stored pages record them; each has exactly the
 *   byte size the listing gives (567, 215, 1,049).
 * - The newest main (https://huggingface.co/onnx-community/Qwen2-VL-2B-Instruct/tree/main)
 *   has a 1.57 kB config.json from "Transformers.js - Enable external data format in Node.js"
 *   (6855b96) whose content is not stored: it presumably adds
 *   `transformers.js_config.use_external_data_format`, after which the large graphs also read
 *   `<name>.onnx_data`. onnxFilesFor handles that form; the cache below is the 214aa9f layout.
 *
 * Substituted, because the weights are the tiny model's (models/tiny-qwen2-vl): the tiny ONNX
 * graphs are copied under every real onnx/ name; tokenizer.json and tokenizer_config.json are
 * the tiny model's (the real tokenizer.json is 11.4 MB, and its token ids go up to 151,656);
 * config.json is the real one with the keys in SHAPE_KEYS taken from the tiny config, because
 * they must match the weights and the tokenizer (hidden sizes, layer and head counts,
 * vocabulary, token ids, vision tower). Everything else in config.json (architectures,
 * model_type, transformers.js_config, ...), preprocessor_config.json, generation_config.json
 * and chat_template.json are the real ones; added_tokens.json, vocab.json, merges.txt and
 * README.md are small stand-ins under the real names (nothing reads them, which the test checks;
 * Transformers.js 4 takes the chat template from tokenizer_config.json, not chat_template.json).
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DTYPES } from '../../src/config/schema.js';
import { silentLogger } from '../../src/core/logger.js';
import {
  DTYPE_SUFFIX,
  MODEL_FILES,
  onnxFilesFor,
  parseDtype,
  type TransformersJsConfig,
} from '../../src/engines/transformers/dtype.js';
import { loadTransformersModel } from '../../src/engines/transformers/load.js';
import { readCaptionsCsv } from '../../src/formats/captions-csv.js';
import { TINY_MODEL_DIR, TINY_MODEL_SETTINGS } from '../fixtures/tiny-qwen2-vl/reference.js';
import { imageSpecs, writeRocov2 } from '../support/datasets.js';
import { writeWithExternalData } from '../support/external-data.js';
import { runMain } from '../support/main-in-process.js';

const MODEL = 'onnx-community/Qwen2-VL-2B-Instruct';
const REAL = new URL('../fixtures/qwen2-vl-2b-instruct/', import.meta.url);

/** config.json keys that must describe the weights and tokenizer actually present. */
const SHAPE_KEYS = [
  'hidden_size',
  'intermediate_size',
  'num_attention_heads',
  'num_hidden_layers',
  'num_key_value_heads',
  'max_position_embeddings',
  'max_window_layers',
  'vocab_size',
  'rope_theta',
  'rope_scaling',
  'rope_parameters',
  'tie_word_embeddings',
  'bos_token_id',
  'eos_token_id',
  'pad_token_id',
  'image_token_id',
  'video_token_id',
  'vision_start_token_id',
  'vision_end_token_id',
  'vision_token_id',
  'vision_config',
  'text_config',
] as const;

const realJson = async (name: string) =>
  JSON.parse(await readFile(new URL(name, REAL), 'utf8')) as Record<string, unknown>;

let root: string;
let cache: string;
let data: string;
let realConfig: Record<string, unknown>;

/** Every name under onnx/ (inferred, see above): 3 graphs x 8 precisions. */
const LAYOUT_ONNX = MODEL_FILES.flatMap((graph) =>
  Object.values(DTYPE_SUFFIX).map((suffix) => `onnx/${graph}${suffix}.onnx`),
);

/** The graphs whose weights sit in `<file>_data` on the Hub (confirmed, see above). */
const EXTERNAL_DATA = ['onnx/decoder_model_merged.onnx', 'onnx/decoder_model_merged_fp16.onnx'];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'medcap-real-layout-'));
  cache = join(root, 'cache');
  const model = join(cache, ...MODEL.split('/'));
  await mkdir(join(model, 'onnx'), { recursive: true });

  realConfig = await realJson('config.json');
  const tiny = JSON.parse(await readFile(join(TINY_MODEL_DIR, 'config.json'), 'utf8'));
  const config: Record<string, unknown> = { ...realConfig };
  for (const key of SHAPE_KEYS) {
    if (key in tiny) config[key] = tiny[key];
    else delete config[key];
  }
  await writeFile(join(model, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
  for (const name of ['preprocessor_config.json', 'generation_config.json', 'chat_template.json']) {
    await cp(new URL(name, REAL), join(model, name));
  }
  for (const name of ['tokenizer.json', 'tokenizer_config.json']) {
    await cp(join(TINY_MODEL_DIR, name), join(model, name));
  }
  for (const name of [
    'added_tokens.json',
    'vocab.json',
    'merges.txt',
    'README.md',
    '.gitattributes',
  ]) {
    await writeFile(join(model, name), name.endsWith('.json') ? '{}\n' : '\n');
  }
  for (const path of LAYOUT_ONNX) {
    const graph = MODEL_FILES.find((g) => path.startsWith(`onnx/${g}`))!;
    const from = join(TINY_MODEL_DIR, 'onnx', `${graph}.onnx`);
    const name = path.slice('onnx/'.length);
    if (EXTERNAL_DATA.includes(path)) {
      await writeWithExternalData(from, join(model, 'onnx'), name, `${name}_data`);
    } else {
      await cp(from, join(model, path));
    }
  }

  data = await writeRocov2(
    join(root, 'data'),
    imageSpecs(3, [
      [64, 48],
      [120, 40],
    ]),
  );
  vi.stubEnv('MEDCAP_MODEL_CACHE', cache);
});

afterAll(async () => {
  vi.unstubAllEnvs();
  await rm(root, { recursive: true, force: true });
});

const jsConfig = () => realConfig['transformers.js_config'] as TransformersJsConfig;

describe('the files medcap requests for each --dtype (real config.json)', () => {
  const graphs = (vision: string, embed: string, decoder: string) => [
    `onnx/vision_encoder${vision}.onnx`,
    `onnx/embed_tokens${embed}.onnx`,
    `onnx/decoder_model_merged${decoder}.onnx`,
  ];

  it("takes the model's own precisions for auto and for no --dtype", () => {
    expect(onnxFilesFor(undefined, jsConfig())).toEqual(graphs('_quantized', '_fp16', '_q4'));
    expect(onnxFilesFor(parseDtype('auto'), jsConfig())).toEqual(
      graphs('_quantized', '_fp16', '_q4'),
    );
  });

  it('names one suffix per precision, the same for all three graphs', () => {
    const expected: Record<string, string> = {
      fp32: '',
      fp16: '_fp16',
      q8: '_quantized',
      int8: '_int8',
      uint8: '_uint8',
      q4: '_q4',
      bnb4: '_bnb4',
      q4f16: '_q4f16',
    };
    for (const dtype of DTYPES.filter((d) => d !== 'auto')) {
      const suffix = expected[dtype]!;
      expect(onnxFilesFor(parseDtype(dtype), jsConfig()), dtype).toEqual(
        graphs(suffix, suffix, suffix),
      );
    }
  });

  it("mixes per-graph settings with the model's own for the graphs not named", () => {
    expect(onnxFilesFor(parseDtype('vision=fp16,decoder=q4f16'), jsConfig())).toEqual(
      graphs('_fp16', '_fp16', '_q4f16'),
    );
    expect(onnxFilesFor(parseDtype('embed=fp32'), jsConfig())).toEqual(
      graphs('_quantized', '', '_q4'),
    );
    // Without the model's own choice, auto is fp32 on cpu, webgpu and cuda.
    expect(onnxFilesFor(parseDtype('auto'), {})).toEqual(graphs('', '', ''));
  });

  it('adds external-data chunks where config.json asks for them', () => {
    const external: TransformersJsConfig = {
      ...jsConfig(),
      use_external_data_format: { 'decoder_model_merged.onnx': 2, vision_encoder: true },
    };
    expect(onnxFilesFor(parseDtype('fp32'), external)).toEqual([
      'onnx/vision_encoder.onnx',
      'onnx/vision_encoder.onnx_data',
      'onnx/embed_tokens.onnx',
      'onnx/decoder_model_merged.onnx',
      'onnx/decoder_model_merged.onnx_data',
      'onnx/decoder_model_merged.onnx_data_1',
    ]);
    // The per-file key names the file with its suffix; the graph name covers every precision.
    expect(onnxFilesFor(parseDtype('q4'), external)).toEqual([
      'onnx/vision_encoder_q4.onnx',
      'onnx/vision_encoder_q4.onnx_data',
      'onnx/embed_tokens_q4.onnx',
      'onnx/decoder_model_merged_q4.onnx',
    ]);
  });

  it('only asks for files the repo has', () => {
    for (const dtype of [undefined, ...DTYPES]) {
      for (const file of onnxFilesFor(parseDtype(dtype), jsConfig())) {
        expect(LAYOUT_ONNX, `${dtype}: ${file}`).toContain(file);
      }
    }
  });
});

describe(`medcap caption --offline --model ${MODEL}`, () => {
  const loadedFiles = (log: string): string[] => {
    const line = log.split('\n').find((l) => l.includes('model files: '));
    return line
      ? line
          .slice(line.indexOf('model files: ') + 13)
          .split(', ')
          .sort()
      : [];
  };

  async function captionWith(dtype: string | undefined, label = dtype ?? 'none') {
    const out = join(root, `out-${label}`);
    const { code, err: text } = await runMain(
      [
        'caption',
        '--data',
        data,
        '--out',
        out,
        '--offline',
        '--model',
        MODEL,
        '--max-new-tokens',
        '6',
        ...(dtype === undefined ? [] : ['--dtype', dtype]),
      ],
      { env: {} },
    );
    return {
      code,
      log: text,
      rows: code === 0 ? await readCaptionsCsv(join(out, 'medical_captions_train.csv')) : [],
    };
  }

  it('reads the configs, the tokenizer and three graphs, nothing else', async () => {
    const loaded = await loadTransformersModel(
      { ...TINY_MODEL_SETTINGS, model: MODEL, dtype: 'q4f16' },
      { logger: silentLogger },
      { cacheDir: cache },
    );
    await loaded.model.dispose();
    expect([...loaded.files].sort()).toEqual(
      [
        'config.json',
        'generation_config.json',
        'preprocessor_config.json',
        'tokenizer.json',
        'tokenizer_config.json',
        ...onnxFilesFor('q4f16', jsConfig()),
      ].sort(),
    );
  });

  it('loads the expected files from the real layout for every --dtype, and captions', async () => {
    const reference = await captionWith('fp32', 'reference');
    expect(reference.code, reference.log).toBe(0);
    expect(reference.rows).toHaveLength(3);
    expect(reference.rows.every((r) => r.status === 'ok' && r.model === MODEL)).toBe(true);

    for (const dtype of [undefined, ...DTYPES]) {
      const run = await captionWith(dtype);
      expect(run.code, `${dtype}: ${run.log}`).toBe(0);
      expect(run.log).toContain(join(cache, ...MODEL.split('/')));
      expect(loadedFiles(run.log), String(dtype)).toEqual(
        [...onnxFilesFor(parseDtype(dtype), jsConfig())].sort(),
      );
      // The same tiny graphs sit under every name: the captions cannot differ.
      expect(
        run.rows.map((r) => r.generatedCaption),
        String(dtype),
      ).toEqual(reference.rows.map((r) => r.generatedCaption));
    }
  });
});
