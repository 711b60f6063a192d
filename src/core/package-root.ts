import { fileURLToPath } from 'node:url';

/** The medcap package folder (where `models/` lives), from src/ and from dist/ alike. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../', import.meta.url));
