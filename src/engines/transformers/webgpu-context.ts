import type { InferenceSession } from 'onnxruntime-node';
import { ConfigError } from '../../core/errors.js';
import { encodeVarint, lengthDelimited } from '../../formats/onnx/protobuf.js';

/**
 * ONNX Runtime's WebGPU provider validates every dispatch ('basic' by default). Its Dawn
 * device (context 0) is one per process and keeps the settings of the session that made it,
 * and Transformers.js gives all sessions the same options, with no way to pass provider
 * options. So a setting is applied by making that device first, with a small session held
 * open for as long as the model's sessions use it.
 */
export const WEBGPU_VALIDATION_MODES = Object.freeze([
  'disabled',
  'wgpuOnly',
  'basic',
  'full',
] as const);
export type WebGpuValidationMode = (typeof WEBGPU_VALIDATION_MODES)[number];

/** MEDCAP_WEBGPU_VALIDATION, checked; undefined leaves the provider's default. */
export function webGpuValidationMode(
  env: NodeJS.ProcessEnv = process.env,
): WebGpuValidationMode | undefined {
  const value = env.MEDCAP_WEBGPU_VALIDATION;
  if (value === undefined || value === '') return undefined;
  if ((WEBGPU_VALIDATION_MODES as readonly string[]).includes(value)) {
    return value as WebGpuValidationMode;
  }
  throw new ConfigError(
    `MEDCAP_WEBGPU_VALIDATION=${value}: expected one of ${WEBGPU_VALIDATION_MODES.join(', ')}`,
  );
}

/** An ONNX model of one Neg node (float [1] in and out): something for the device to hold. */
export function negModel(): Uint8Array {
  const text = (field: number, value: string) => lengthDelimited(field, Buffer.from(value, 'utf8'));
  const scalarInfo = (name: string) => {
    const dim = lengthDelimited(1, Buffer.concat([encodeVarint(1 * 8), encodeVarint(1)]));
    const tensorType = Buffer.concat([
      encodeVarint(1 * 8),
      encodeVarint(1),
      lengthDelimited(2, dim),
    ]);
    return Buffer.concat([text(1, name), lengthDelimited(2, lengthDelimited(1, tensorType))]);
  };
  const node = Buffer.concat([text(1, 'x'), text(2, 'y'), text(4, 'Neg')]);
  const graph = Buffer.concat([
    lengthDelimited(1, node),
    text(2, 'medcap_webgpu_device'),
    lengthDelimited(11, scalarInfo('x')),
    lengthDelimited(12, scalarInfo('y')),
  ]);
  const opset = Buffer.concat([text(1, ''), encodeVarint(2 * 8), encodeVarint(14)]);
  return new Uint8Array(
    Buffer.concat([
      encodeVarint(1 * 8),
      encodeVarint(8),
      lengthDelimited(7, graph),
      lengthDelimited(8, opset),
    ]),
  );
}

/** Makes the process's WebGPU device with `mode`; the returned function lets it go. */
export async function holdWebGpuDevice(mode: WebGpuValidationMode): Promise<() => Promise<void>> {
  const ort = await import('onnxruntime-node');
  const session: InferenceSession = await ort.InferenceSession.create(negModel(), {
    executionProviders: [{ name: 'webgpu', validationMode: mode }],
    logSeverityLevel: 3,
  });
  return () => session.release();
}
