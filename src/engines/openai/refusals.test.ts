import { describe, expect, it } from 'vitest';
import {
  REFUSALS_TO_STOP,
  RefusalTracker,
  type RefusalVerdict,
  refusalsToStop,
} from './refusals.js';

const A = 'http://a:8000/v1';
const B = 'http://b:8000/v1';

/** The verdict if given by now, else 'waiting'. */
async function now(verdict: Promise<RefusalVerdict>): Promise<RefusalVerdict | 'waiting'> {
  return Promise.race([verdict, new Promise<'waiting'>((r) => setImmediate(() => r('waiting')))]);
}

describe('RefusalTracker', () => {
  it('stops at three, a refusal waiting for a request sent later to pass', async () => {
    expect(REFUSALS_TO_STOP).toBe(3);
    const tracker = new RefusalTracker();
    const [p1, p2, p3, p4] = [1, 2, 3, 4].map(() => tracker.next());
    tracker.passed(A, p1!);
    const refused = tracker.refused(A, p2!);
    expect(await now(refused)).toBe('waiting');
    // A request sent before the refused one proves nothing about it.
    tracker.passed(A, p1!);
    expect(await now(refused)).toBe('waiting');
    tracker.passed(A, p4!);
    expect(await refused).toEqual({ stop: false });
    // Refused after a request sent later was let through: that pass came first, so the
    // refusal waits for one that comes after it.
    const late = tracker.refused(A, p3!);
    expect(await now(late)).toBe('waiting');
    tracker.passed(A, p4!);
    expect(await late).toEqual({ stop: false });
  });

  it('a gateway that starts refusing everything while two requests are on their way: the earlier-sent one, refused after the later one passed, is not its own', async () => {
    const tracker = new RefusalTracker(refusalsToStop(2));
    const places = Array.from({ length: 6 }, () => tracker.next());
    tracker.passed(A, places[0]!);
    // places[1] and places[2] travel on two connections; places[2] gets through first.
    tracker.passed(A, places[2]!);
    const verdicts = [1, 3, 4].map((i) => tracker.refused(A, places[i]!));
    expect(await now(verdicts[0]!)).toBe('waiting');
    verdicts.push(tracker.refused(A, places[5]!));
    expect(await Promise.all(verdicts)).toEqual(
      Array(4).fill({ stop: true, why: 'streak', count: 4 }),
    );
  });

  it('needs one more refusal for each request in flight beyond the first, and never more than the run keeps in flight', () => {
    expect(refusalsToStop(1)).toBe(REFUSALS_TO_STOP);
    expect(refusalsToStop(2)).toBe(4);
    expect(refusalsToStop(32)).toBe(34);
    // The run keeps 4 batches of `concurrency` images in flight: enough refusals can come.
    for (const concurrency of [1, 2, 3, 8, 32, 256]) {
      expect(refusalsToStop(concurrency)).toBeLessThanOrEqual(4 * concurrency);
    }
  });

  it("a refused image alone among images let through is that image's own", async () => {
    const tracker = new RefusalTracker();
    const places = Array.from({ length: 10 }, () => tracker.next());
    const verdicts: Promise<RefusalVerdict>[] = [];
    for (const [i, place] of places.entries()) {
      if (i % 4 === 2) verdicts.push(tracker.refused(A, place));
      else tracker.passed(A, place);
    }
    expect(await Promise.all(verdicts)).toEqual([{ stop: false }, { stop: false }]);
  });

  it('stops the run once three refusals have no request let through after them', async () => {
    const tracker = new RefusalTracker();
    const places = Array.from({ length: 8 }, () => tracker.next());
    tracker.passed(A, places[0]!);
    const first = tracker.refused(A, places[2]!);
    const second = tracker.refused(A, places[3]!);
    // Requests sent before the refusals, answered after them (a revoked key lets the requests
    // it already took finish): they do not count.
    tracker.passed(A, places[1]!);
    expect(await now(first)).toBe('waiting');
    const third = await tracker.refused(A, places[4]!);
    const stop = { stop: true, why: 'streak', count: 3 };
    expect(third).toEqual(stop);
    expect(await first).toEqual(stop);
    expect(await second).toEqual(stop);
  });

  it("says 'never' when the endpoint let no request through", async () => {
    const tracker = new RefusalTracker();
    const verdicts = [1, 2, 3].map(() => tracker.refused(A, tracker.next()));
    expect(await Promise.all(verdicts)).toEqual(
      Array(3).fill({ stop: true, why: 'never', count: 3 }),
    );
  });

  it('counts per endpoint: refusals on one are not settled by passes on another', async () => {
    const tracker = new RefusalTracker();
    const onB = tracker.refused(B, tracker.next());
    tracker.passed(A, tracker.next());
    const onA = tracker.refused(A, tracker.next());
    tracker.passed(A, tracker.next());
    expect(await onA).toEqual({ stop: false });
    expect(await now(onB)).toBe('waiting');
    tracker.refused(B, tracker.next());
    expect(await tracker.refused(B, tracker.next())).toEqual({
      stop: true,
      why: 'never',
      count: 3,
    });
    expect(await onB).toMatchObject({ stop: true });
  });

  it('when idle: the image fails alone on an endpoint that let requests through, else the run stops', async () => {
    const tracker = new RefusalTracker();
    tracker.passed(A, tracker.next());
    const onA = tracker.refused(A, tracker.next());
    const onB = tracker.refused(B, tracker.next());
    tracker.idle();
    expect(await onA).toEqual({ stop: false });
    expect(await onB).toEqual({ stop: true, why: 'never', count: 1 });
    // A refusal given its verdict when idle still counts towards the three.
    tracker.refused(A, tracker.next());
    expect(await tracker.refused(A, tracker.next())).toMatchObject({ stop: true, why: 'streak' });
  });
});
