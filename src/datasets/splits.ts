/**
 * Names that datasets give the same split: ROCOv2 says `valid`, the Hub and ROCO v1 say
 * `validation`, others `val`.
 */
const SPLIT_ALIASES: Readonly<Record<string, readonly string[]>> = Object.freeze({
  validation: ['valid', 'val'],
  valid: ['validation', 'val'],
  val: ['validation', 'valid'],
});

/** `split`, then its other names, in the order they are looked for. */
export function splitNames(split: string): string[] {
  return [split, ...(SPLIT_ALIASES[split.toLowerCase()] ?? [])];
}
