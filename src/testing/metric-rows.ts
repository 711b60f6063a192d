/** Test helper: per-item rows out of column arrays aligned with the item ids. */
export function rowsOf(
  values: Readonly<Record<string, ArrayLike<number>>>,
  ids: readonly string[],
): Map<string, Record<string, number>> {
  const rows = new Map<string, Record<string, number>>();
  ids.forEach((id, k) => {
    const row: Record<string, number> = {};
    for (const [column, columnValues] of Object.entries(values)) row[column] = columnValues[k]!;
    rows.set(id, row);
  });
  return rows;
}
