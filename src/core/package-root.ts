import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The medcap package folder (where `models/` lives), from src/ and from dist/ alike. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** How to run medcap on a GPU, shipped with the package: messages name its full path. */
export const GPU_GUIDE = join(PACKAGE_ROOT, 'docs', 'GPU.md');
