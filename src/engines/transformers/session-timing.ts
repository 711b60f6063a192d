/**
 * Where generation time goes, per ONNX Runtime session (MEDCAP_PROFILE=1): the vision
 * encoder, the token embedding, the decoder's first step of each batch (prefill: more than
 * one position) and its later steps (decode: one position each). Each `session.run` is
 * wrapped once at load; the wrapper only reads a clock, so the numbers cost nothing to keep.
 */

interface RunnableSession {
  run(feeds: Record<string, unknown>, ...rest: unknown[]): Promise<unknown>;
}

interface PhaseTotals {
  runs: number;
  seconds: number;
}

export type SessionPhase = 'vision' | 'embed' | 'prefill' | 'decode' | 'other';

export class SessionTimings {
  private readonly totals = new Map<SessionPhase, PhaseTotals>();

  add(phase: SessionPhase, seconds: number): void {
    const totals = this.totals.get(phase) ?? { runs: 0, seconds: 0 };
    totals.runs += 1;
    totals.seconds += seconds;
    this.totals.set(phase, totals);
  }

  get(phase: SessionPhase): PhaseTotals {
    return this.totals.get(phase) ?? { runs: 0, seconds: 0 };
  }

  /** One line: `vision 4 runs 1.234 s; ...; decode 252 runs 30.1 s (119.4 ms/run)`. */
  describe(): string {
    const parts: string[] = [];
    for (const [phase, { runs, seconds }] of this.totals) {
      const each = runs > 0 ? ` (${((seconds / runs) * 1000).toFixed(1)} ms/run)` : '';
      parts.push(`${phase} ${runs} runs ${seconds.toFixed(3)} s${each}`);
    }
    return parts.join('; ');
  }
}

/** The phase of one run of the session named `name`, from its feeds. */
export function phaseOf(name: string, feeds: Record<string, unknown>): SessionPhase {
  if (name === 'vision_encoder') return 'vision';
  if (name === 'embed_tokens') return 'embed';
  if (name !== 'decoder_model_merged') return 'other';
  const embeds = feeds.inputs_embeds as { dims?: readonly number[] } | undefined;
  return (embeds?.dims?.[1] ?? 1) > 1 ? 'prefill' : 'decode';
}

/** Wraps each session's `run` so that its wall time is added to `timings`. */
export function timeSessions(
  sessions: Record<string, RunnableSession>,
  timings: SessionTimings,
  now: () => number = () => performance.now(),
): void {
  for (const [name, session] of Object.entries(sessions)) {
    const run = session.run.bind(session);
    session.run = async (feeds, ...rest) => {
      const started = now();
      try {
        return await run(feeds, ...rest);
      } finally {
        timings.add(phaseOf(name, feeds), (now() - started) / 1000);
      }
    };
  }
}
