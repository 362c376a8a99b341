/**
 * The API check of `deno task check`, on what `deno doc --json` reads of
 * every module: an exported function, constructor or method takes at most
 * two parameters, then an options object (named `options`, or of a type
 * whose name ends in `Options`); and every function and class the four
 * entry modules export has an `@example`.
 *
 * @example
 * ```sh
 * deno run --allow-run --allow-read .ci/api.ts
 * ```
 *
 * @module
 */

import { relative } from "node:path";
import { denoJson, LAYERS, TOP_LEVEL } from "./layers.ts";

/** A parameter as `deno doc --json` gives it. */
interface Param {
  kind: string;
  name?: string;
  optional?: boolean;
  tsType?: { repr?: string };
  left?: Param;
}

/** The functions of a symbol that take parameters: itself, or a class's constructors and public methods. */
interface Callable {
  where: string;
  params: Param[];
}

/** A symbol of `deno doc --json`, as much of it as this check reads. */
interface DocSymbol {
  name: string;
  declarations: {
    kind: string;
    declarationKind?: string;
    location: { filename: string; line: number };
    jsDoc?: { tags?: { kind: string }[] };
    def?: {
      params?: Param[];
      constructors?: { params: Param[]; accessibility?: string; jsDoc?: { tags?: { kind: string }[] } }[];
      methods?: {
        name: string;
        accessibility?: string;
        isStatic?: boolean;
        kind?: string;
        functionDef?: { params: Param[] };
        jsDoc?: { tags?: { kind: string }[] };
      }[];
    };
  }[];
}

/** The parameter list `params` breaks the rule (more than two, the third not an options object), or not. */
export function paramProblem(params: readonly Param[]): string | undefined {
  if (params.length <= 2) return undefined;
  const third = params[2].kind === "assign" ? params[2].left! : params[2];
  const name = third.name ?? "";
  const type = third.tsType?.repr ?? "";
  if (params.length === 3 && (name === "options" || /Options$/.test(type))) return undefined;
  return `takes ${params.length} parameters; take at most two, then an options object`;
}

function hasExample(doc: { tags?: { kind: string }[] } | undefined): boolean {
  return doc?.tags?.some((t) => t.kind === "example") ?? false;
}

function callables(symbol: DocSymbol, root: string): Callable[] {
  const out: Callable[] = [];
  for (const d of symbol.declarations) {
    const where = `${relative(root, new URL(d.location.filename).pathname)}:${d.location.line} ${symbol.name}`;
    if (d.kind === "function") out.push({ where, params: d.def?.params ?? [] });
    if (d.kind !== "class") continue;
    for (const c of d.def?.constructors ?? []) {
      if (c.accessibility !== "private") out.push({ where: `${where} constructor`, params: c.params });
    }
    for (const m of d.def?.methods ?? []) {
      if (m.accessibility === "private" || m.name.startsWith("#") || m.kind === "getter") continue;
      out.push({ where: `${where}.${m.name}`, params: m.functionDef?.params ?? [] });
    }
  }
  return out;
}

/** `deno doc --json` of `files`: every symbol of every file. */
async function readDocs(root: string, files: string[]): Promise<{ file: string; symbols: DocSymbol[] }[]> {
  const doc = await denoJson(root, ["doc", "--json", ...files]) as {
    nodes: Record<string, { symbols: DocSymbol[] }>;
  };
  return Object.entries(doc.nodes).map(([url, node]) => ({
    file: relative(root, new URL(url).pathname),
    symbols: node.symbols,
  }));
}

/** Every problem of the project's API, one line each. */
export async function checkApi(root: string): Promise<string[]> {
  const files = [...TOP_LEVEL];
  for (const layers of LAYERS) {
    for (const folder of layers.flatMap((l) => l.holds).filter((h) => h.endsWith("/"))) {
      for await (const entry of Deno.readDir(`${root}/${folder}`)) {
        if (entry.isFile && entry.name.endsWith(".ts")) files.push(folder + entry.name);
      }
    }
  }
  const problems: string[] = [];
  for (const { file, symbols } of await readDocs(root, files)) {
    for (const symbol of symbols) {
      // Each declaration is checked where it is written, not again where it is re-exported.
      const own = symbol.declarations.filter((d) => relative(root, new URL(d.location.filename).pathname) === file);
      if (own.length === 0) continue;
      const mine = { ...symbol, declarations: own };
      for (const c of callables(mine, root)) {
        const problem = paramProblem(c.params);
        if (problem) problems.push(`${c.where} ${problem}`);
      }
    }
  }
  for (const { file, symbols } of await readDocs(root, [...TOP_LEVEL])) {
    for (const symbol of symbols) {
      for (const d of symbol.declarations) {
        if (d.kind !== "function" && d.kind !== "class") continue;
        const documented = hasExample(d.jsDoc) || d.def?.constructors?.some((c) => hasExample(c.jsDoc)) ||
          d.def?.methods?.some((m) => m.isStatic && hasExample(m.jsDoc));
        if (!documented) problems.push(`${file}: ${symbol.name} has no @example`);
      }
    }
  }
  return problems;
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const problems = await checkApi(root);
  if (problems.length > 0) {
    console.error(`api: ${problems.length} problem${problems.length === 1 ? "" : "s"}`);
    for (const p of problems) console.error(`- ${p}`);
    Deno.exit(1);
  }
  console.log("api: every exported call takes at most two parameters then options; every entry point has an example");
}
