import type { JournalLine, JournalStage } from '../formats/journal-types.js';

type RiskyStage = 'prepare' | 'engine';

/** An image in progress, among others, when a run ended abruptly, without a row since. */
export interface Suspect {
  /** Where it was the last time. */
  stage: RiskyStage;
  /** How many abruptly ended runs it was in progress in (never alone). */
  crashes: number;
}

/** What the journal says about runs that ended abruptly (killed, crashed, out of memory). */
export interface CrashSuspects {
  suspects: Map<number, Suspect>;
  /**
   * Images that were being read or captioned alone when a run ended abruptly, with the
   * stage: `--resume` makes them error rows so that the rest can finish.
   */
  poisoned: Map<number, RiskyStage>;
}

/**
 * Reads the stage lines of a journal. A session (from one start line to the next) that has
 * neither an end nor a stop line ended abruptly; the images it left in `prepare` or `engine`
 * (their last stage line) are its suspects, or poisoned when they were there alone. Images
 * left waiting for a batch were not at fault. A suspect stays one, counting the crashes it
 * was in, until an item line for it clears it.
 */
export function crashSuspects(lines: readonly JournalLine[]): CrashSuspects {
  const suspects = new Map<number, Suspect>();
  const poisoned = new Map<number, RiskyStage>();
  const inStage = new Map<number, JournalStage>();
  let open = false;
  let orderly = false;
  const closeSession = () => {
    if (open && !orderly) {
      for (const [index, line] of inStage) {
        if (line.stage === 'wait') continue;
        if (line.alone) {
          poisoned.set(index, line.stage);
          suspects.delete(index);
        } else if (!poisoned.has(index)) {
          const crashes = (suspects.get(index)?.crashes ?? 0) + 1;
          suspects.set(index, { stage: line.stage, crashes });
        }
      }
    }
    inStage.clear();
    open = false;
    orderly = false;
  };
  for (const line of lines) {
    switch (line.kind) {
      case 'start':
        closeSession();
        open = true;
        break;
      case 'end':
      case 'stop':
        orderly = true;
        break;
      case 'stage':
        for (const index of line.indexes) inStage.set(index, line);
        break;
      case 'item':
        inStage.delete(line.index);
        suspects.delete(line.index);
        poisoned.delete(line.index);
        break;
      default:
        break;
    }
  }
  closeSession();
  return { suspects, poisoned };
}
