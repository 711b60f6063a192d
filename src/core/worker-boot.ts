/**
 * The code a `new Worker(code, { eval: true })` runs to load the module `name` (without
 * extension) beside `moduleUrl`: the built `.js`, or from the TypeScript sources (tests, tsx)
 * the `.ts` through tsx.
 */
export function workerBootCode(moduleUrl: string, name: string): string {
  const fromSource = moduleUrl.endsWith('.ts');
  const entry = new URL(`./${name}.${fromSource ? 'ts' : 'js'}`, moduleUrl).href;
  const register = fromSource ? "(await import('tsx/esm/api')).register();" : '';
  return `(async () => { ${register} await import(${JSON.stringify(entry)}); })();`;
}
