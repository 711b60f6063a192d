import { describe, expect, it } from 'vitest';
import type { EncodedImage } from '../types.js';
import { chatRequestBody, chatRequestBytes } from './request.js';

function image(mime: EncodedImage['mime'], length: number): EncodedImage {
  const bytes = new Uint8Array(length);
  for (let i = 0; i < length; i++) bytes[i] = (i * 2654435761) >>> 24;
  return { mime, bytes };
}

function expected(model: string, prompt: string, encoded: EncodedImage, max: number): string {
  const uri = `data:${encoded.mime};base64,${Buffer.from(encoded.bytes).toString('base64')}`;
  return JSON.stringify(chatRequestBody(model, prompt, uri, max));
}

describe('chatRequestBytes', () => {
  it('is byte for byte JSON.stringify of chatRequestBody, whatever the prompt and model', () => {
    const prompts = [
      'Describe the medical image.',
      'Quotes " and \\ backslashes, a tab\t, a newline\n, ünïcödé and 🩻',
      '"url":"data:image/png;base64,',
      '',
    ];
    const models = ['bench-vlm', 'org/Qwen2-VL "2B"', '"url":"data:image/jpeg;base64,'];
    for (const model of models) {
      for (const prompt of prompts) {
        for (const encoded of [
          image('image/png', 0),
          image('image/png', 1),
          image('image/jpeg', 2),
          image('image/png', 30_001),
        ]) {
          const bytes = chatRequestBytes(model, prompt, encoded, 77);
          expect(bytes.toString('utf8')).toBe(expected(model, prompt, encoded, 77));
        }
      }
    }
  });

  it('uses the right frame when requests alternate between types and prompts', () => {
    const png = image('image/png', 100);
    const jpeg = image('image/jpeg', 50);
    for (let i = 0; i < 12; i++) {
      const prompt = `prompt ${i % 5}`;
      const encoded = i % 2 ? png : jpeg;
      expect(chatRequestBytes('m', prompt, encoded, i).toString()).toBe(
        expected('m', prompt, encoded, i),
      );
    }
  });
});
