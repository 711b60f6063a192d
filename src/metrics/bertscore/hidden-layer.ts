import type { OnnxGraph } from '../../formats/onnx/graph.js';

/**
 * Which hidden state BERTScore reads, and where it is in an ONNX graph.
 *
 * bert_score cuts the encoder after `num_layers` layers and reads its output, i.e.
 * hidden_states[num_layers] (0 = the embedding layer's output). ONNX exports on the Hub
 * usually output only `last_hidden_state` (feature extraction) or only `logits` (fill-mask),
 * so the inner hidden state is found by name: exports by the PyTorch TorchScript exporter /
 * Optimum name nodes after the modules, e.g. `/encoder/layer.16/output/LayerNorm/Add_1`, and
 * hidden state k > 0 is what leaves the LayerNorm that closes layer k-1.
 */

/**
 * The layer bert_score uses by default for each model of its model2layers table (tuned on
 * WMT16; all 140 entries of its source at Tiiiger/bert_score@19e7f55, April 2024), keyed by the name
 * without its owner, lower case: `FacebookAI/roberta-large`, `Xenova/roberta-large` and
 * bert_score's own `roberta-large` all find 17, `microsoft/deberta-xlarge-mnli` 40 (no two of
 * its names collide so). Other models default to their last layer. Whether medcap can read a
 * model's inner layers is a separate matter (see locateHiddenState).
 */
const DEFAULT_LAYERS: Readonly<Record<string, number>> = Object.freeze({
  'bert-base-uncased': 9,
  'bert-large-uncased': 18,
  'bert-base-cased-finetuned-mrpc': 9,
  'bert-base-multilingual-cased': 9,
  'bert-base-chinese': 8,
  'roberta-base': 10,
  'roberta-large': 17,
  'roberta-large-mnli': 19,
  'roberta-base-openai-detector': 7,
  'roberta-large-openai-detector': 15,
  'xlnet-base-cased': 5,
  'xlnet-large-cased': 7,
  'xlm-mlm-en-2048': 6,
  'xlm-mlm-100-1280': 10,
  scibert_scivocab_uncased: 8,
  scibert_scivocab_cased: 9,
  scibert_basevocab_uncased: 9,
  'distilroberta-base': 5,
  'distilbert-base-uncased': 5,
  'distilbert-base-uncased-distilled-squad': 4,
  'distilbert-base-multilingual-cased': 5,
  'albert-base-v1': 10,
  'albert-large-v1': 17,
  'albert-xlarge-v1': 16,
  'albert-xxlarge-v1': 8,
  'albert-base-v2': 9,
  'albert-large-v2': 14,
  'albert-xlarge-v2': 13,
  'albert-xxlarge-v2': 8,
  'xlm-roberta-base': 9,
  'xlm-roberta-large': 17,
  'electra-small-generator': 9,
  'electra-small-discriminator': 11,
  'electra-base-generator': 10,
  'electra-base-discriminator': 9,
  'electra-large-generator': 18,
  'electra-large-discriminator': 14,
  'bert_uncased_l-2_h-128_a-2': 1,
  'bert_uncased_l-2_h-256_a-4': 1,
  'bert_uncased_l-2_h-512_a-8': 1,
  'bert_uncased_l-2_h-768_a-12': 2,
  'bert_uncased_l-4_h-128_a-2': 3,
  'bert_uncased_l-4_h-256_a-4': 3,
  'bert_uncased_l-4_h-512_a-8': 3,
  'bert_uncased_l-4_h-768_a-12': 3,
  'bert_uncased_l-6_h-128_a-2': 5,
  'bert_uncased_l-6_h-256_a-4': 5,
  'bert_uncased_l-6_h-512_a-8': 5,
  'bert_uncased_l-6_h-768_a-12': 5,
  'bert_uncased_l-8_h-128_a-2': 7,
  'bert_uncased_l-8_h-256_a-4': 7,
  'bert_uncased_l-8_h-512_a-8': 6,
  'bert_uncased_l-8_h-768_a-12': 7,
  'bert_uncased_l-10_h-128_a-2': 8,
  'bert_uncased_l-10_h-256_a-4': 8,
  'bert_uncased_l-10_h-512_a-8': 9,
  'bert_uncased_l-10_h-768_a-12': 8,
  'bert_uncased_l-12_h-128_a-2': 10,
  'bert_uncased_l-12_h-256_a-4': 11,
  'bert_uncased_l-12_h-512_a-8': 10,
  'bert_uncased_l-12_h-768_a-12': 9,
  bort: 0,
  'bart-base': 6,
  'bart-large': 10,
  'bart-large-cnn': 10,
  'bart-large-mnli': 11,
  'bart-large-xsum': 9,
  't5-small': 6,
  't5-base': 11,
  't5-large': 23,
  'bertweet-base': 9,
  'deberta-base': 9,
  'deberta-base-mnli': 9,
  'deberta-large': 16,
  'deberta-large-mnli': 18,
  'deberta-xlarge': 18,
  'deberta-xlarge-mnli': 40,
  'conv-bert-base': 10,
  'conv-bert-small': 10,
  'conv-bert-medium-small': 9,
  'mpnet-base': 8,
  'squeezebert-uncased': 9,
  'squeezebert-mnli': 9,
  'squeezebert-mnli-headless': 9,
  pegasus_paraphrase: 15,
  'pegasus-large': 8,
  'pegasus-xsum': 11,
  'tiny-mbart': 2,
  'mbart-large-cc25': 12,
  'mbart-large-50': 12,
  'mbart-large-en-ro': 12,
  'mbart-large-50-many-to-many-mmt': 12,
  'mbart-large-50-one-to-many-mmt': 12,
  'led-base-16384': 6,
  'blenderbot_small-90m': 7,
  'blenderbot-400m-distill': 2,
  'prophetnet-large-uncased': 4,
  'prophetnet-large-uncased-cnndm': 7,
  'spanbert-base-cased': 8,
  'spanbert-large-cased': 17,
  'xprophetnet-large-wiki100-cased': 7,
  finbert: 10,
  t5_paraphrase_paws: 12,
  t5_paraphraser: 11,
  'deberta-v2-xlarge': 10,
  'deberta-v2-xlarge-mnli': 17,
  'deberta-v2-xxlarge': 21,
  'deberta-v2-xxlarge-mnli': 22,
  'longformer-base-4096': 7,
  'longformer-large-4096': 14,
  'longformer-large-4096-finetuned-triviaqa': 14,
  'bert-base-uncased-embedding-relative-key': 4,
  'bert-base-uncased-embedding-relative-key-query': 7,
  'bert-large-uncased-whole-word-masking-embedding-relative-key-query': 19,
  'mt5-small': 8,
  'mt5-base': 11,
  'mt5-large': 19,
  'mt5-xl': 24,
  'bigbird-roberta-base': 10,
  'bigbird-roberta-large': 14,
  'bigbird-base-trivia-itc': 8,
  'unsup-simcse-bert-base-uncased': 10,
  'unsup-simcse-bert-large-uncased': 18,
  'unsup-simcse-roberta-base': 8,
  'unsup-simcse-roberta-large': 13,
  'sup-simcse-bert-base-uncased': 10,
  'sup-simcse-bert-large-uncased': 18,
  'sup-simcse-roberta-base': 10,
  'sup-simcse-roberta-large': 16,
  'bert-base-turkish-cased': 10,
  'distilbert-base-turkish-cased': 4,
  'byt5-small': 1,
  'byt5-base': 17,
  'byt5-large': 30,
  'deberta-v3-xsmall': 10,
  'deberta-v3-small': 4,
  'deberta-v3-base': 9,
  'mdeberta-v3-base': 10,
  'deberta-v3-large': 12,
  'deberta-v3-large-mnli': 18,
});

/** `Xenova/roberta-large`, `FacebookAI/roberta-large`, `roberta-large-ONNX` → `roberta-large`. */
export function baseModelName(id: string): string {
  const last = id.replace(/\\/g, '/').replace(/\/+$/, '').split('/').pop() ?? id;
  return last.replace(/[-_](onnx|ONNX)$/, '').toLowerCase();
}

/**
 * bert_score's default layer for a model, from its id or folder name or the
 * `_name_or_path` its config.json was exported from; undefined when unknown.
 */
export function defaultLayerFor(names: readonly (string | undefined)[]): number | undefined {
  for (const name of names) {
    if (!name) continue;
    const layer = DEFAULT_LAYERS[baseModelName(name)];
    if (layer !== undefined) return layer;
  }
  return undefined;
}

export interface HiddenStateLocation {
  /** Name of the tensor in the graph. */
  tensor: string;
  /** True when the graph already outputs it (no pruned copy needed). */
  isGraphOutput: boolean;
}

const QUANTIZATION_OPS = new Set(['DynamicQuantizeLinear', 'QuantizeLinear', 'DequantizeLinear']);

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Node-name scopes of the LayerNorm whose output is hidden state k. */
function layerNormScopes(k: number): RegExp[] {
  if (k === 0) return [/(?:^|\/)embeddings\/(?:LayerNorm|layer_norm|norm)\//];
  const i = escapeRegExp(String(k - 1));
  return [
    new RegExp(`(?:^|/)layers?\\.${i}/output/(?:LayerNorm|layer_norm)/`),
    new RegExp(`(?:^|/)layers?\\.${i}/output_layer_norm/`),
  ];
}

/**
 * Tensors that leave a node scope: produced inside it and used outside it (or an output).
 * Quantization nodes count as outside: a quantized graph names the DynamicQuantizeLinear that
 * reads a LayerNorm's output after that tensor, which puts it in the LayerNorm's scope.
 */
function tensorLeavingScope(graph: OnnxGraph, scope: RegExp): string[] {
  const inScope = graph.nodes.map((n) => scope.test(n.name) && !QUANTIZATION_OPS.has(n.opType));
  if (!inScope.some(Boolean)) return [];
  const produced = new Set<string>();
  graph.nodes.forEach((node, i) => {
    if (inScope[i]) for (const out of node.outputs) produced.add(out);
  });
  const leaving = new Set<string>();
  graph.nodes.forEach((node, i) => {
    if (inScope[i]) return;
    for (const input of node.inputs) if (produced.has(input)) leaving.add(input);
  });
  for (const out of graph.outputs) if (produced.has(out.name)) leaving.add(out.name);
  return [...leaving];
}

/**
 * Finds hidden state `layer` (0..numLayers) of an encoder in its ONNX graph.
 * Throws an Error that says why when the graph does not show it.
 */
export function locateHiddenState(
  graph: OnnxGraph,
  layer: number,
  numLayers: number,
): HiddenStateLocation {
  if (!Number.isInteger(layer) || layer < 0 || layer > numLayers) {
    throw new RangeError(`layer ${layer} is out of range: this model has layers 0..${numLayers}`);
  }
  const outputNames = new Set(graph.outputs.map((o) => o.name));
  if (layer === numLayers && outputNames.has('last_hidden_state')) {
    return { tensor: 'last_hidden_state', isGraphOutput: true };
  }
  for (const name of [`hidden_states.${layer}`, `hidden_states_${layer}`]) {
    if (outputNames.has(name)) return { tensor: name, isGraphOutput: true };
  }

  for (const scope of layerNormScopes(layer)) {
    const leaving = tensorLeavingScope(graph, scope);
    if (leaving.length === 1) {
      const tensor = leaving[0]!;
      return { tensor, isGraphOutput: outputNames.has(tensor) };
    }
  }

  // Graphs with fused LayerNormalization nodes but other names: post-LN BERT-family encoders
  // have one LayerNorm after the embeddings and two per layer (then maybe one in a head).
  const norms = graph.nodes.filter((n) => n.opType === 'LayerNormalization');
  if (norms.length === 2 * numLayers + 1 || norms.length === 2 * numLayers + 2) {
    const tensor = norms[2 * layer]!.outputs[0]!;
    return { tensor, isGraphOutput: outputNames.has(tensor) };
  }
  throw new Error(
    `cannot find hidden state ${layer} in ${graph.path}: the graph has no output for it and its ` +
      'node names do not show the encoder layers (expected names like /encoder/layer.N/output/LayerNorm/...)',
  );
}
