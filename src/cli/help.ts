import type { OptionSpec } from '../config/schema.js';

/**
 * An option's line in `--help`: its description, what is allowed, and its default, as
 * `--help` shows them in familiar tools. Defaults live in the option table, not in
 * commander, so that env and config file can still win over them.
 */
export function optionHelp(spec: OptionSpec): string {
  const parts = [spec.description];
  const showAllowed = spec.type.kind !== 'text' && spec.type.kind !== 'boolean';
  if (showAllowed) parts.push(`(${spec.allowed})`);
  const shown = spec.defaultNote ?? shownDefault(spec.default);
  if (shown !== undefined) parts.push(`(default: ${shown})`);
  return parts.join(' ');
}

/** The default as a user would type it; nothing for off-by-default switches and empty lists. */
export function shownDefault(value: unknown): string | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) return 'on';
  if (Array.isArray(value)) return value.length === 0 ? undefined : value.join(',');
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  return String(value);
}
