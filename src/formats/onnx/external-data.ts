import { copyFile, link, mkdir, realpath, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Logger } from '../../core/logger.js';
import type { OnnxGraph } from './graph.js';

/**
 * A rewritten model's external data files, beside it as real files: ONNX Runtime refuses
 * external data whose resolved path leaves the model file's folder, which a symbolic link to
 * the original does. A hard link costs nothing; across file systems the data is copied (once).
 * `beside` names the rewritten model in that message.
 */
export async function placeExternalData(
  graph: OnnxGraph,
  source: string,
  destinationFolder: string,
  logger: Logger,
  beside: string,
): Promise<void> {
  for (const location of graph.externalData) {
    const from = await realpath(join(dirname(source), location));
    const to = join(destinationFolder, location);
    await rm(to, { force: true });
    await mkdir(dirname(to), { recursive: true });
    try {
      await link(from, to);
    } catch {
      const { size } = await stat(from);
      logger.info(
        `copying ${from} (${(size / 2 ** 30).toFixed(2)} GiB) beside ${beside}: the model cache is on another file system (once)`,
      );
      await copyFile(from, to);
    }
  }
}
