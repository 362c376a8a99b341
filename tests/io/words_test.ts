import assert from "node:assert/strict";
import { editDistance, formatBytes, listed, plural, shellWord } from "../../io/words.ts";

Deno.test("shellWord: a plain word as it is; anything a shell would split or expand in single quotes", () => {
  assert.equal(shellWord("/tmp/mine"), "/tmp/mine");
  assert.equal(shellWord("--port=5"), "--port=5");
  assert.equal(shellWord(""), "''");
  assert.equal(shellWord("my files"), "'my files'");
  assert.equal(shellWord(" 80"), "' 80'");
  assert.equal(shellWord("$HOME"), "'$HOME'");
  assert.equal(shellWord("it's"), `'it'\\''s'`);
});

Deno.test("formatBytes: what every layer writes for a size (cli/report.ts re-exports it)", () => {
  assert.equal(formatBytes(96), "96 B");
  assert.equal(formatBytes(8 * 1024 * 1024), "8.00 MiB");
  assert.equal(formatBytes(200 * 1024 * 1024), "200 MiB");
});

Deno.test("plural: one is one, any other count is many; an odd plural given both forms", () => {
  assert.equal(plural(1, "file"), "1 file");
  assert.equal(plural(0, "file"), "0 files");
  assert.equal(plural(2, ["copy", "copies"]), "2 copies");
  assert.equal(plural(1, ["copy", "copies"]), "1 copy");
});

Deno.test("editDistance: insertions, deletions and changes count one each; a swap of two neighbours too", () => {
  assert.equal(editDistance("port", "port"), 0);
  assert.equal(editDistance("prot", "port"), 1); // a swap
  assert.equal(editDistance("wiat", "wait"), 1);
  assert.equal(editDistance("pot", "port"), 1);
  assert.equal(editDistance("", "dir"), 3);
  assert.equal(editDistance("json", "jsno"), 1);
});

Deno.test("listed: nothing, one word, two joined by and, more by commas and a last and", () => {
  assert.equal(listed([]), "");
  assert.equal(listed(["a"]), "a");
  assert.equal(listed(["a", "b"]), "a and b");
  assert.equal(listed(["a", "b", "c"]), "a, b and c");
});
