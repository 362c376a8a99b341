/**
 * Words for people that more than one layer writes: a size in units, a
 * path or value as one shell word (so that a message can be pasted back),
 * and a list in words.
 *
 * @module
 */

/** `512 B`, `1.5 KiB`, `12.0 MiB`, `3.25 GiB`: powers of 1024, three significant digits or so. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  // Two decimals under 10, one under 100, none above; what would show as 1000 or more goes to the next unit.
  const shown = (v: number) => v.toFixed(Number(v.toFixed(2)) < 10 ? 2 : Number(v.toFixed(1)) < 100 ? 1 : 0);
  let value = n / 1024;
  let unit = 0;
  while (Number(shown(value)) >= 1000 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${shown(value)} ${units[unit]}`;
}

/**
 * Quotes `text` as a shell would need it, so that a message shows exactly
 * what was given (`''` for nothing, `' 80'` with its space) and a
 * suggestion can be pasted back.
 */
export function shellWord(text: string): string {
  return /^[\w@%+=:,./-]+$/.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** `1 file`, `2 files`, `0 files`; both forms for an odd plural: `plural(2, ["copy", "copies"])` is `2 copies`. */
export function plural(n: number, word: string | [one: string, many: string]): string {
  const [one, many] = typeof word === "string" ? [word, `${word}s`] : word;
  return `${n} ${n === 1 ? one : many}`;
}

/** `a`, `a and b`, `a, b and c`. */
export function listed(words: readonly string[]): string {
  return words.length < 2 ? words.join("") : `${words.slice(0, -1).join(", ")} and ${words.at(-1)}`;
}

/** Edit distance between `a` and `b`, a swap of two neighbours counting as one edit (`prot` → `port`: 1). */
export function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.length][b.length];
}
