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
 * The layer bert_score uses by default for some BERT-family encoders (its model2layers table,
 * tuned on WMT16). Other models default to their last layer.
 */
const DEFAULT_LAYERS: Readonly<Record<string, number>> = Object.freeze({
  'bert-base-uncased': 9,
  'bert-large-uncased': 18,
  'bert-base-multilingual-cased': 9,
  'roberta-base': 10,
  'roberta-large': 17,
  'roberta-large-mnli': 19,
  'distilroberta-base': 5,
  'distilbert-base-uncased': 5,
  'distilbert-base-multilingual-cased': 5,
  'xlm-roberta-base': 9,
  'xlm-roberta-large': 17,
  scibert_scivocab_uncased: 8,
  scibert_scivocab_cased: 9,
  'deberta-base': 9,
  'deberta-large': 16,
  'deberta-xlarge-mnli': 40,
  'mpnet-base': 8,
  'electra-base-discriminator': 9,
  'electra-large-discriminator': 14,
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
