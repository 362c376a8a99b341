/**
 * The layering check of `deno task check`: reads the import graph of
 * `main.ts` (`deno info --json main.ts`, type-only imports included) and
 * fails on an import cycle, on an import that points up or sideways across
 * the layers below, on a module of a layer folder that `main.ts` never
 * reaches, and on a `.ts` file at the top level beyond the design card's
 * four. `docs/ARCHITECTURE.md` explains the layers.
 *
 * @example
 * ```sh
 * deno run --allow-run --allow-read .ci/layers.ts
 * ```
 *
 * @module
 */

import { relative } from "node:path";

/** One layer of the house: the files (top level) or folders (a trailing `/`) it holds. */
export interface Layer {
  /** What a person calls it, for messages. */
  name: string;
  /** Files (`protocol.ts`) or folders (`io/`) of the layer. */
  holds: string[];
}

/**
 * The layers, lowest first. A module may import a module of its own layer,
 * or of a layer of a lower rank; layers of one rank are siblings and never
 * import each other (the tracker's parts know nothing of the peer's).
 */
export const LAYERS: readonly (readonly Layer[])[] = [
  [{ name: "the wire", holds: ["protocol.ts"] }],
  [{ name: "bytes and connections", holds: ["io/"] }],
  [{ name: "disk", holds: ["disk/"] }],
  [{ name: "the tracker's parts", holds: ["tracker/"] }, { name: "the peer's parts", holds: ["peer/"] }],
  [{ name: "the tracker role", holds: ["tracker.ts"] }, { name: "the peer role", holds: ["peer.ts"] }],
  [{ name: "what a person sees", holds: ["cli/"] }],
  [{ name: "the command line's door", holds: ["main.ts"] }],
];

/** The only `.ts` files allowed at the top level. */
export const TOP_LEVEL: readonly string[] = ["main.ts", "tracker.ts", "peer.ts", "protocol.ts"];

/** An import graph: module path (relative to the project) → the project modules it imports. */
export type Graph = ReadonlyMap<string, readonly string[]>;

/** Where `path` sits: its layer and that layer's rank, or undefined outside every layer. */
export function placeOf(path: string): { layer: Layer; rank: number } | undefined {
  for (const [rank, layers] of LAYERS.entries()) {
    for (const layer of layers) {
      if (layer.holds.some((h) => h.endsWith("/") ? path.startsWith(h) : path === h)) return { layer, rank };
    }
  }
  return undefined;
}

/** Every problem with `graph`, one line each: cycles, imports against the layers, modules outside every layer. */
export function checkGraph(graph: Graph): string[] {
  const problems: string[] = [];
  for (const [from, imports] of graph) {
    const here = placeOf(from);
    if (!here) {
      problems.push(`${from} is in no layer: move it into one of the layer folders`);
      continue;
    }
    for (const to of imports) {
      const there = placeOf(to);
      if (!there) continue; // told once, as a module of its own
      if (there.layer === here.layer || there.rank < here.rank) continue;
      const way = there.rank === here.rank ? "sideways" : "up";
      problems.push(
        `${from} (${here.layer.name}) imports ${to} (${there.layer.name}): an import ${way}; ` +
          `move what both need down a layer, or invert the dependency`,
      );
    }
  }
  for (const cycle of findCycles(graph)) problems.push(`import cycle: ${cycle.join(" → ")}`);
  return problems;
}

/** The cycles of `graph`, each as the modules around it, first repeated at the end; one per strongly connected part. */
export function findCycles(graph: Graph): string[][] {
  const cycles: string[][] = [];
  const state = new Map<string, "open" | "done">();
  const stack: string[] = [];
  const visit = (node: string) => {
    state.set(node, "open");
    stack.push(node);
    for (const next of graph.get(node) ?? []) {
      const seen = state.get(next);
      if (seen === "open") cycles.push([...stack.slice(stack.indexOf(next)), next]);
      else if (seen === undefined) visit(next);
    }
    stack.pop();
    state.set(node, "done");
  };
  for (const node of [...graph.keys()].sort()) if (!state.has(node)) visit(node);
  return cycles;
}

/** What `deno <args>` prints on standard output, as JSON, run in `root`; its errors go to standard error. */
export async function denoJson(root: string, args: string[]): Promise<unknown> {
  const output = await new Deno.Command(Deno.execPath(), { args, cwd: root, stdout: "piped", stderr: "inherit" })
    .output();
  if (!output.success) throw new Error(`deno ${args.join(" ")} failed; see above`);
  return JSON.parse(new TextDecoder().decode(output.stdout));
}

/** The project's import graph from `deno info --json main.ts`: local modules only, type-only imports included. */
export async function readGraph(root: string): Promise<Map<string, string[]>> {
  const info = await denoJson(root, ["info", "--json", "main.ts"]) as {
    modules: { specifier: string; dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[] }[];
  };
  const local = (specifier: string | undefined) =>
    specifier?.startsWith("file://") ? relative(root, new URL(specifier).pathname) : undefined;
  const graph = new Map<string, string[]>();
  for (const module of info.modules) {
    const from = local(module.specifier);
    if (from === undefined) continue;
    const imports = new Set<string>();
    for (const dep of module.dependencies ?? []) {
      for (const to of [local(dep.code?.specifier), local(dep.type?.specifier)]) if (to !== undefined) imports.add(to);
    }
    graph.set(from, [...imports].sort());
  }
  return graph;
}

/** `.ts` files of the project that are not where they may be: at the top level beyond the four, or unreachable from `main.ts`. */
export async function strayFiles(root: string, graph: Graph): Promise<string[]> {
  const problems: string[] = [];
  for await (const entry of Deno.readDir(root)) {
    if (entry.isFile && entry.name.endsWith(".ts") && !TOP_LEVEL.includes(entry.name)) {
      problems.push(`${entry.name} lies at the top level: only ${TOP_LEVEL.join(", ")} belong there`);
    }
  }
  for (const layers of LAYERS) {
    for (const folder of layers.flatMap((l) => l.holds).filter((h) => h.endsWith("/"))) {
      for await (const entry of Deno.readDir(`${root}/${folder}`)) {
        const path = folder + entry.name;
        if (entry.isFile && entry.name.endsWith(".ts") && !graph.has(path)) {
          problems.push(`${path} is not reached from main.ts: remove it, or import it where it is used`);
        }
      }
    }
  }
  return problems.sort();
}

if (import.meta.main) {
  const root = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
  const graph = await readGraph(root);
  const problems = [...checkGraph(graph), ...await strayFiles(root, graph)];
  if (problems.length > 0) {
    console.error(`layers: ${problems.length} problem${problems.length === 1 ? "" : "s"}`);
    for (const p of problems) console.error(`- ${p}`);
    Deno.exit(1);
  }
  console.log(`layers: ${graph.size} modules, no cycle, every import points down`);
}
