import { describe, expect, it } from 'vitest';
import { phaseOf, SessionTimings, timeSessions } from './session-timing.js';

describe('session timings', () => {
  it('names the phase of a run from the session and the length of its inputs', () => {
    expect(phaseOf('vision_encoder', {})).toBe('vision');
    expect(phaseOf('embed_tokens', {})).toBe('embed');
    expect(phaseOf('decoder_model_merged', { inputs_embeds: { dims: [8, 290, 1536] } })).toBe(
      'prefill',
    );
    expect(phaseOf('decoder_model_merged', { inputs_embeds: { dims: [8, 1, 1536] } })).toBe(
      'decode',
    );
    expect(phaseOf('model', {})).toBe('other');
  });

  it('adds each run to its phase, failed runs too, and passes results through', async () => {
    let clock = 0;
    const sessions = {
      vision_encoder: {
        run: async (_feeds: Record<string, unknown>) => {
          clock += 250;
          return 'features';
        },
      },
      decoder_model_merged: {
        run: async (feeds: Record<string, unknown>) => {
          clock += 40;
          if (feeds.fail) throw new Error('boom');
          return 'logits';
        },
      },
    };
    const timings = new SessionTimings();
    timeSessions(sessions, timings, () => clock);
    expect(await sessions.vision_encoder.run({})).toBe('features');
    await sessions.decoder_model_merged.run({ inputs_embeds: { dims: [1, 5, 4] } });
    await sessions.decoder_model_merged.run({ inputs_embeds: { dims: [1, 1, 4] } });
    await expect(
      sessions.decoder_model_merged.run({ inputs_embeds: { dims: [1, 1, 4] }, fail: true }),
    ).rejects.toThrow('boom');
    expect(timings.get('vision')).toEqual({ runs: 1, seconds: 0.25 });
    expect(timings.get('prefill')).toEqual({ runs: 1, seconds: 0.04 });
    expect(timings.get('decode')).toEqual({ runs: 2, seconds: 0.08 });
    expect(timings.get('embed')).toEqual({ runs: 0, seconds: 0 });
    expect(timings.describe()).toBe(
      'vision 1 runs 0.250 s (250.0 ms/run); prefill 1 runs 0.040 s (40.0 ms/run); decode 2 runs 0.080 s (40.0 ms/run)',
    );
  });
});
