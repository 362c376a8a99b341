/**
 * What `SEND` takes at the prompt (`cli/prompt_syntax.ts`): `--wait`, `--`
 * before names that start with `--`, an unknown option refused with the
 * one meant and the line to type instead, names in double quotes taken as
 * written, bare names as on the wire; and `showName`, whose every output
 * `SEND` reads back as the same name.
 *
 * @module
 */

import assert from "node:assert/strict";
import { decodeName } from "../../protocol.ts";
import { parseSendArguments, SendSyntaxError, showName } from "../../cli/prompt_syntax.ts";

Deno.test("SEND arguments: names as on the wire, --wait, and -- before names that start with --", () => {
  assert.deepEqual(parseSendArguments("a.txt, b%2C c.txt"), {
    wait: false,
    names: ["a.txt", "b, c.txt"],
    list: "a.txt, b%2C c.txt",
  });
  assert.deepEqual(parseSendArguments("--wait  later.txt"), { wait: true, names: ["later.txt"], list: "later.txt" });
  assert.deepEqual(parseSendArguments("-- --odd.txt, x"), {
    wait: false,
    names: ["--odd.txt", "x"],
    list: "--odd.txt, x",
  });
  assert.deepEqual(parseSendArguments("--wait -- --odd.txt").names, ["--odd.txt"]);
  assert.deepEqual(parseSendArguments("-dash.txt").names, ["-dash.txt"], "one dash is a name");
  assert.deepEqual(parseSendArguments("a.txt,, ,b.txt,").names, ["a.txt", "b.txt"], "empty items dropped");
  // A name that is not valid stays as typed: its download is refused, saying why.
  assert.deepEqual(parseSendArguments(".env").names, [".env"]);
});

Deno.test("SEND arguments: a quoted name is taken as written (comma, %-look-alike, leading --, escapes)", () => {
  assert.deepEqual(parseSendArguments('"a, b 100%.txt", "%41.txt" , "--x", "say \\"hi\\".txt"'), {
    wait: false,
    names: ["a, b 100%.txt", "%41.txt", "--x", 'say "hi".txt'],
    list: 'a%2C b 100%25.txt, %2541.txt, --x, say "hi".txt',
  });
  assert.deepEqual(parseSendArguments('--wait "a, b"').names, ["a, b"]);
  assert.deepEqual(parseSendArguments('notes "draft".txt').names, ['notes "draft".txt'], "a quote inside a bare name");
});

Deno.test("SEND arguments: an unknown option is refused with the one meant and the line that asks for such a name", () => {
  const refused = (rest: string) => {
    try {
      parseSendArguments(rest);
    } catch (error) {
      assert.ok(error instanceof SendSyntaxError);
      return error.message;
    }
    assert.fail(`${rest} was taken`);
  };
  assert.equal(
    refused("--wiat x.txt"),
    "SEND: unknown option --wiat (did you mean --wait?); a name starting with -- goes after --: SEND -- --wiat x.txt",
  );
  assert.match(refused("--WAIT x"), /did you mean --wait\?/);
  assert.match(refused("--wa x"), /did you mean --wait\?/);
  assert.match(refused("--wait --odd.txt"), /: SEND --wait -- --odd\.txt$/);
  assert.equal(
    refused("--verbose x"),
    "SEND: unknown option --verbose (SEND knows --wait); a name starting with -- goes after --: SEND -- --verbose x",
  );
  assert.equal(refused(""), "SEND: no file name given; type SEND name[, name...]");
  assert.equal(refused("--wait , "), "SEND: no file name given; type SEND name[, name...] after --wait");
  assert.match(refused('"a, b.txt'), /^SEND: the quote before "a, b\.txt does not close; /);
  assert.match(refused('"a" b'), /^SEND: b follows the quoted name "a"; /);
  assert.match(refused('"\\q"'), /^SEND: cannot read "\\q": /);
});

Deno.test("showName: plain where SEND reads it back as it is, in quotes where not; SEND always reads back the name", () => {
  assert.equal(showName("notes.txt"), "notes.txt");
  assert.equal(showName("100% done.txt"), "100% done.txt");
  assert.equal(showName("日本 語.txt"), "日本 語.txt");
  assert.equal(showName("a, b.txt"), '"a, b.txt"');
  assert.equal(showName("%41.txt"), '"%41.txt"');
  assert.equal(showName("--odd.txt"), '"--odd.txt"');
  assert.equal(showName('"q".txt'), '"\\"q\\".txt"');
  const names = [
    "notes.txt",
    "100% done.txt",
    "a, b 100%.txt",
    "%2C.txt",
    "--odd",
    "-x",
    '"quoted"',
    'in "the" middle',
    "日本 語, 👍🏽.txt",
    "%",
    "50%off",
  ];
  for (const name of names) {
    assert.deepEqual(parseSendArguments(showName(name)).names, [name], showName(name));
    // And what goes on the wire decodes to it.
    assert.equal(decodeName(parseSendArguments(showName(name)).list), name);
  }
  // Several shown names, joined as a person would type them.
  assert.deepEqual(parseSendArguments(names.map(showName).join(", ")).names, names);
});
