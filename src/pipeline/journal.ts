import { constants, existsSync, ftruncateSync, writeSync } from 'node:fs';
import { type FileHandle, open, truncate } from 'node:fs/promises';
import { DatasetError } from '../core/errors.js';
import { asOutputError } from '../core/files.js';
import { bytesAfterLastNewline, readFileLines } from '../formats/file-lines.js';
import type { JournalItem, JournalLine } from '../formats/journal-types.js';

export interface JournalContents {
  lines: JournalLine[];
  /** Finished items by dataset index; a later line for the same index wins. */
  items: Map<number, JournalItem>;
  /** Bytes of a torn last line (a crash mid-write) that were dropped. */
  tornBytes: number;
}

/**
 * Reads a journal. A torn last line (no trailing newline: the process died mid-write) is
 * ignored; any other line that is not valid JSON is an error naming the line.
 */
export async function readJournal(path: string): Promise<JournalContents> {
  let file: ReturnType<typeof readFileLines>;
  try {
    file = readFileLines(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      return { lines: [], items: new Map(), tornBytes: 0 };
    throw error;
  }
  const lines: JournalLine[] = [];
  const items = new Map<number, JournalItem>();
  file.lines.forEach((raw, i) => {
    if (raw.trim() === '') return;
    let line: JournalLine;
    try {
      line = JSON.parse(raw) as JournalLine;
    } catch {
      throw new DatasetError(
        `${path}:${i + 1}: journal line is not valid JSON (the file was damaged; repair or delete that line)`,
      );
    }
    lines.push(line);
    if (line.kind === 'item') items.set(line.index, line);
  });
  return { lines, items, tornBytes: file.tailBytes };
}

/**
 * Append-only writer; every `append` ends with fsync, so a finished batch survives kill -9.
 * An append that fails (disk full) is cut back off, so the journal holds whole lines only,
 * and the writer refuses further appends.
 */
export class JournalWriter {
  private failed: unknown;
  /** An append is being written: note() queues its lines in `noted`. */
  private appending = false;
  private readonly noted: Buffer[] = [];

  private constructor(
    private readonly handle: FileHandle,
    private readonly path: string,
    private size: number,
  ) {}

  /**
   * Opens the journal for appending. With `fresh`, an existing journal is emptied; otherwise
   * a torn last line is cut off first so the next line starts clean.
   */
  static async open(path: string, options: { fresh: boolean }): Promise<JournalWriter> {
    try {
      if (!options.fresh && existsSync(path)) {
        const tornBytes = bytesAfterLastNewline(path);
        if (tornBytes > 0) {
          const handle = await open(path, 'r');
          const { size } = await handle.stat();
          await handle.close();
          await truncate(path, size - tornBytes);
        }
      }
      const flags =
        constants.O_WRONLY |
        constants.O_CREAT |
        constants.O_APPEND |
        (options.fresh ? constants.O_TRUNC : 0);
      const handle = await open(path, flags, 0o644);
      return new JournalWriter(handle, path, (await handle.stat()).size);
    } catch (error) {
      throw asOutputError(error, path);
    }
  }

  async append(lines: readonly JournalLine[]): Promise<void> {
    if (lines.length === 0) return;
    if (this.failed !== undefined) throw this.failed;
    let bytes = Buffer.from(lines.map((line) => `${JSON.stringify(line)}\n`).join(''));
    let appended = 0;
    this.appending = true;
    try {
      // Stage lines noted meanwhile follow this append's lines, never inside them.
      for (; bytes.length > 0; bytes = Buffer.concat(this.noted.splice(0))) {
        // A write may be cut short (file size limit, disk nearly full): write the rest, which
        // either succeeds or says why not.
        let written = 0;
        while (written < bytes.length) {
          const { bytesWritten } = await this.handle.write(bytes, written);
          written += bytesWritten;
        }
        appended += bytes.length;
      }
      await this.handle.sync();
      this.size += appended;
    } catch (error) {
      this.failed = asOutputError(error, this.path);
      await this.handle.truncate(this.size).catch(() => {});
      throw this.failed;
    } finally {
      this.appending = false;
      this.noted.length = 0;
    }
  }

  /**
   * Appends one line at once, without fsync: for stage lines, written as a stage starts, which
   * must outlive the process (the kernel keeps what was written) but not the machine. While
   * an append is being written, the line waits and goes right after it.
   */
  note(line: JournalLine): void {
    if (this.failed !== undefined) return;
    const bytes = Buffer.from(`${JSON.stringify(line)}\n`);
    if (this.appending) {
      this.noted.push(bytes);
      return;
    }
    let written = 0;
    try {
      while (written < bytes.length)
        written += writeSync(this.handle.fd, bytes, written, bytes.length - written);
      this.size += bytes.length;
    } catch (error) {
      // A stage line is only a hint: a disk that refuses it fails the next append, which
      // says so. Part of one is cut off, so the journal holds whole lines only.
      if (written === 0) return;
      try {
        ftruncateSync(this.handle.fd, this.size);
      } catch {
        this.failed = asOutputError(error, this.path);
      }
    }
  }

  async close(): Promise<void> {
    await this.handle.close();
  }
}
