import assert from "node:assert/strict";
import { join } from "node:path";
import { startFileServer } from "../peer/file_server.ts";
import type { Holder } from "../protocol.ts";
import { SharedFolder } from "../disk/shared_folder.ts";
import { deadAddress, fakeHolder, listDir, randomBytes, sha256, tempDir, writeFiles } from "./helpers.ts";
import { DownloadError } from "../io/errors.ts";
import { writeText } from "../io/streams.ts";
import { downloadFile, type DownloadOptions } from "../peer/download.ts";
import { downloadAll } from "../peer/download_all.ts";

/** A file server on 127.0.0.1 over a new temporary folder holding `files`. */
async function servingFolder(files: Record<string, string | Uint8Array>) {
  const dir = await tempDir();
  await writeFiles(dir.path, files);
  const folder = await SharedFolder.open(dir.path);
  const entries = await folder.scan();
  const server = startFileServer({ hostname: "127.0.0.1", port: 0, folder });
  const address = `127.0.0.1:${server.addr.port}`;
  const holder = (name: string): Holder => {
    const e = entries.find((x) => x.name === name)!;
    return { address, size: e.size, sha256: e.sha256 };
  };
  return {
    dir: dir.path,
    address,
    folder,
    holder,
    /** Downloads `name` as the tracker would offer it: first from `first` (a bad holder), then from here. */
    fetchAfter: (name: string, first: string, options: DownloadOptions) =>
      downloadFile({ name, status: 200, holders: [{ ...holder(name), address: first }, holder(name)] }, options),
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("download: a 40 MiB binary file arrives byte for byte and nothing else is left", async () => {
  const data = randomBytes(40 * 1024 * 1024 + 7);
  await using src = await servingFolder({ "big.bin": data });
  await using out = await tempDir();
  const got = await downloadFile({ name: "big.bin", status: 200, holders: [src.holder("big.bin")] }, {
    outDir: out.path,
  });
  assert.equal(got.size, data.length);
  assert.equal(got.from, src.address);
  assert.deepEqual(await Deno.readFile(join(out.path, "big.bin")), data);
  assert.deepEqual(await listDir(out.path), ["big.bin"]);
});

Deno.test("download: an empty file arrives as an empty file", async () => {
  await using src = await servingFolder({ "empty": new Uint8Array() });
  await using out = await tempDir();
  await downloadFile({ name: "empty", status: 200, holders: [src.holder("empty")] }, { outDir: out.path });
  assert.equal((await Deno.stat(join(out.path, "empty"))).size, 0);
});

Deno.test("download: a refused connection is reported and the next holder serves", async () => {
  await using src = await servingFolder({ "f.txt": "content" });
  await using out = await tempDir();
  const dead = deadAddress();
  const seen: string[] = [];
  const got = await src.fetchAfter("f.txt", dead, {
    outDir: out.path,
    onAttemptFailed: (_, a) => seen.push(`${a.code} ${a.holder}`),
  });
  assert.deepEqual(seen, [`ECONNREFUSED ${dead}`]);
  assert.deepEqual(got.failed.map((a) => a.code), ["ECONNREFUSED"]);
  assert.equal(await Deno.readTextFile(join(out.path, "f.txt")), "content");
});

Deno.test("download: a holder that answers 404 is skipped with code 404", async () => {
  await using empty = await servingFolder({});
  await using src = await servingFolder({ "f.txt": "content" });
  await using out = await tempDir();
  const got = await src.fetchAfter("f.txt", empty.address, { outDir: out.path });
  assert.deepEqual(got.failed.map((a) => [a.code, a.holder]), [["404", empty.address]]);
});

Deno.test("download: a holder whose file changed size is refused before any byte lands (ECHANGED)", async () => {
  await using src = await servingFolder({ "f.txt": "version one" });
  await using out = await tempDir();
  const announced = src.holder("f.txt");
  await Deno.writeTextFile(join(src.dir, "f.txt"), "version two, longer");
  const error = await downloadFile({ name: "f.txt", status: 200, holders: [announced] }, { outDir: out.path })
    .catch((e) => e);
  assert.ok(error instanceof DownloadError);
  assert.deepEqual(error.attempts.map((a) => a.code), ["ECHANGED"]);
  assert.deepEqual(await listDir(out.path), []);
});

Deno.test("download: bytes that do not match the hash never land (EHASH), the next holder serves", async () => {
  const good = "the real content";
  await using liar = fakeHolder(async (conn) => {
    const bad = "the fake content";
    await writeText(conn, `200 ${bad.length} ${sha256(good)}\n${bad}`);
  });
  await using src = await servingFolder({ "f.txt": good });
  await using out = await tempDir();
  const got = await src.fetchAfter("f.txt", liar.address, { outDir: out.path });
  assert.deepEqual(got.failed.map((a) => a.code), ["EHASH"]);
  assert.equal(await Deno.readTextFile(join(out.path, "f.txt")), good);
});

Deno.test("download: a holder that dies mid-transfer leaves nothing behind (ETRUNCATED)", async () => {
  const data = randomBytes(3 * 1024 * 1024);
  await using dying = fakeHolder(async (conn) => {
    await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
    let written = 0;
    while (written < data.length / 2) written += await conn.write(data.subarray(written, data.length / 2));
  });
  await using out = await tempDir();
  const error = await downloadFile({
    name: "f.bin",
    status: 200,
    holders: [{ address: dying.address, size: data.length, sha256: sha256(data) }],
  }, { outDir: out.path }).catch((e) => e);
  assert.ok(error instanceof DownloadError);
  assert.deepEqual(error.attempts.map((a) => a.code), ["ETRUNCATED"]);
  assert.deepEqual(await listDir(out.path), []);
});

Deno.test("download: a holder that hangs times out (ETIMEDOUT) and the next holder serves", async () => {
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  await using hanging = fakeHolder(async (conn) => {
    await writeText(conn, `200 10 ${sha256("0123456789")}\n01234`);
    await released;
  });
  await using src = await servingFolder({ "f.txt": "0123456789" });
  await using out = await tempDir();
  try {
    const got = await src.fetchAfter("f.txt", hanging.address, { outDir: out.path, timeoutMs: 300 });
    assert.deepEqual(got.failed.map((a) => a.code), ["ETIMEDOUT"]);
    assert.equal(await Deno.readTextFile(join(out.path, "f.txt")), "0123456789");
  } finally {
    release();
  }
});

Deno.test("download: a holder that never answers the request times out too", async () => {
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  await using silent = fakeHolder(() => released);
  await using out = await tempDir();
  try {
    await assert.rejects(
      downloadFile({ name: "f", status: 200, holders: [{ address: silent.address, size: 1, sha256: sha256("x") }] }, {
        outDir: out.path,
        timeoutMs: 200,
      }),
      (e: DownloadError) => e.attempts[0].code === "ETIMEDOUT",
    );
  } finally {
    release();
  }
});

Deno.test("download: several files from different peers in parallel, each compared byte for byte", async () => {
  const files = { "a.bin": randomBytes(2_000_000, 1), "b.bin": randomBytes(3_000_000, 2), "c d, e.txt": "text" };
  await using p1 = await servingFolder({ "a.bin": files["a.bin"] });
  await using p2 = await servingFolder({ "b.bin": files["b.bin"], "c d, e.txt": files["c d, e.txt"] });
  await using out = await tempDir();
  const outcomes = await downloadAll([
    { name: "a.bin", status: 200, holders: [p1.holder("a.bin")] },
    { name: "b.bin", status: 200, holders: [p2.holder("b.bin")] },
    { name: "missing", status: 404, holders: [], message: "not found" },
    { name: "c d, e.txt", status: 200, holders: [p2.holder("c d, e.txt")] },
  ], { outDir: out.path });
  assert.deepEqual(outcomes.map((o) => [o.name, o.ok]), [["a.bin", true], ["b.bin", true], ["missing", false], [
    "c d, e.txt",
    true,
  ]]);
  assert.deepEqual(await Deno.readFile(join(out.path, "a.bin")), files["a.bin"]);
  assert.deepEqual(await Deno.readFile(join(out.path, "b.bin")), files["b.bin"]);
  assert.equal(await Deno.readTextFile(join(out.path, "c d, e.txt")), "text");
  const missing = outcomes[2];
  assert.ok(!missing.ok && /404/.test(missing.reason));
});

Deno.test("download: an output folder that does not exist fails at once, naming it", async () => {
  await using src = await servingFolder({ "f.txt": "x" });
  await assert.rejects(
    downloadFile({ name: "f.txt", status: 200, holders: [src.holder("f.txt")] }, { outDir: "/nonexistent/dir" }),
    (e: DownloadError) => /cannot write in \/nonexistent\/dir/.test(e.message) && e.attempts.length === 0,
  );
});

// --- the file server, spoken to raw -----------------------------------------

async function rawRequest(port: number, line: string): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeText(conn, line);
    // Nothing more comes: a holder that keeps the connection open (after RANGE) then closes it at once.
    await conn.closeWrite();
    const chunks: Uint8Array[] = [];
    const buffer = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) break;
      chunks.push(buffer.slice(0, n));
    }
    return new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
  } finally {
    conn.close();
  }
}

const text = (b: Uint8Array) => new TextDecoder().decode(b);

Deno.test("file server: GET sends a header then the bytes; RANGE sends a part", async () => {
  await using src = await servingFolder({ "f.txt": "0123456789" });
  const port = Number(src.address.split(":")[1]);
  assert.equal(text(await rawRequest(port, "GET f.txt\n")), `200 10 ${sha256("0123456789")}\n0123456789`);
  assert.equal(text(await rawRequest(port, "RANGE 3 4 f.txt\r\n")), `206 10 ${sha256("0123456789")} 3 4\n3456`);
  assert.equal(text(await rawRequest(port, "RANGE 8 * f.txt\n")), `206 10 ${sha256("0123456789")} 8 2\n89`);
  assert.match(text(await rawRequest(port, "RANGE 11 * f.txt\n")), /^416 /);
});

Deno.test("file server: hostile names are refused with 403 and missing ones with 404", async () => {
  await using outside = await tempDir();
  await Deno.writeTextFile(join(outside.path, "secret"), "secret");
  await using src = await servingFolder({ "f.txt": "x", ".hidden": "h" });
  await Deno.symlink(join(outside.path, "secret"), join(src.dir, "link-out"));
  await Deno.symlink(join(src.dir, "f.txt"), join(src.dir, "link-in"));
  await Deno.mkdir(join(src.dir, "sub"));
  const port = Number(src.address.split(":")[1]);
  for (const name of ["../secret", "/etc/passwd", "a%00b", ".hidden", "..", "sub%2F..%2Ff.txt", "link-out"]) {
    assert.match(text(await rawRequest(port, `GET ${name}\n`)), /^403 /, name);
  }
  assert.match(text(await rawRequest(port, "GET nothing\n")), /^404 /);
  assert.match(text(await rawRequest(port, "GET sub\n")), /^404 /);
  assert.equal(text(await rawRequest(port, "GET link-in\n")), `200 1 ${sha256("x")}\nx`);
  assert.match(text(await rawRequest(port, "HELLO\n")), /^400 unknown command/);
  assert.match(text(await rawRequest(port, "GET " + "x".repeat(70_000) + "\n")), /^413 /);
});

Deno.test("file server: serves many downloads at once", async () => {
  const data = randomBytes(1_000_000);
  await using src = await servingFolder({ "f.bin": data });
  const outs = await Promise.all(Array.from({ length: 8 }, () => tempDir()));
  try {
    await Promise.all(
      outs.map((o) => downloadFile({ name: "f.bin", status: 200, holders: [src.holder("f.bin")] }, { outDir: o.path })),
    );
    for (const o of outs) assert.deepEqual(await Deno.readFile(join(o.path, "f.bin")), data);
  } finally {
    for (const o of outs) await o[Symbol.asyncDispose]();
  }
});

Deno.test("download: a different file already at the target is never overwritten (EEXIST); the same one counts", async () => {
  await using src = await servingFolder({ "f.txt": "remote" });
  await using out = await tempDir();
  await Deno.writeTextFile(join(out.path, "f.txt"), "mine!!");
  await assert.rejects(
    downloadFile({ name: "f.txt", status: 200, holders: [src.holder("f.txt")] }, { outDir: out.path }),
    (e: DownloadError) => e.attempts.length === 1 && e.attempts[0].code === "EEXIST" && /in the way/.test(e.message),
  );
  assert.equal(await Deno.readTextFile(join(out.path, "f.txt")), "mine!!");
  await Deno.writeTextFile(join(out.path, "f.txt"), "remote");
  const got = await downloadFile({ name: "f.txt", status: 200, holders: [src.holder("f.txt")] }, {
    outDir: out.path,
  });
  assert.equal(got.from, "here");
  assert.deepEqual(await listDir(out.path), ["f.txt"]);
});

Deno.test("download: a folder in the way fails before any holder is contacted, leaving nothing", async () => {
  await using src = await servingFolder({ "f.txt": "remote" });
  await using out = await tempDir();
  await Deno.mkdir(join(out.path, "f.txt"));
  await assert.rejects(
    downloadFile({ name: "f.txt", status: 200, holders: [src.holder("f.txt")] }, { outDir: out.path }),
    (e: DownloadError) => e.attempts.every((a) => a.holder === "here"),
  );
  assert.deepEqual(await listDir(out.path), ["f.txt"]);
});

Deno.test("download: aborting the signal mid-transfer cancels it and removes the partial file", async () => {
  const data = randomBytes(1_000_000);
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const { promise: started, resolve: start } = Promise.withResolvers<void>();
  await using slow = fakeHolder(async (conn) => {
    await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
    await conn.write(data.subarray(0, 1000));
    start();
    await released;
  });
  await using out = await tempDir();
  const controller = new AbortController();
  const download = downloadFile({
    name: "f.bin",
    status: 200,
    holders: [{ address: slow.address, size: data.length, sha256: sha256(data) }],
  }, { outDir: out.path, signal: controller.signal, timeoutMs: 30_000 });
  try {
    await started;
    controller.abort();
    await assert.rejects(download, (e: DownloadError) => e.message === "cancelled");
    assert.deepEqual(await listDir(out.path), []);
  } finally {
    release();
  }
});
