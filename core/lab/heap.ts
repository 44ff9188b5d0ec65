import * as fs from 'node:fs';
import * as path from 'node:path';

/**
 * What a Node process's V8 heap holds, from a heap snapshot the process
 * writes itself: node's --heapsnapshot-signal, given through NODE_OPTIONS
 * when the process starts (heapSnapshotOptions), so nothing in alived has
 * to know. A snapshot collects garbage first: what it counts is live. It
 * costs the process megabytes of malloc'd memory it keeps, so the process's
 * RSS after one says little (bench/vrrp-reload-memory.ts measures RSS in a
 * daemon that never takes one).
 */

export interface HeapFigures {
  /** the self sizes of every node of the snapshot: the live heap, bytes */
  bytes: number;
  /** nodes in the snapshot */
  nodes: number;
  /** bytes by the snapshot's node type: `object`, `closure`, `array`, `string`, `code` (bytecode, compiled code and what V8 keeps with it), `hidden`, ... */
  bytesByType: Map<string, number>;
  /** JavaScript objects by constructor name (`InstanceRuntime`, `Announcer`, ...) */
  objects: Map<string, number>;
}

/** NODE_OPTIONS for a process that writes a heap snapshot into `dir` on `signal` (by default SIGUSR2). */
export function heapSnapshotOptions(dir: string, signal: NodeJS.Signals = 'SIGUSR2'): string {
  if (/\s/.test(dir)) throw new Error(`heap snapshot directory '${dir}' has a space: NODE_OPTIONS cannot carry it`);
  return `--heapsnapshot-signal=${signal} --diagnostic-dir=${dir}`;
}

/** Reads a heap snapshot file: its live bytes and its objects by constructor. */
export function readHeapSnapshot(file: string): HeapFigures {
  const snap = JSON.parse(fs.readFileSync(file, 'utf8')) as {
    snapshot: { meta: { node_fields: string[]; node_types: [string[]] } };
    nodes: number[];
    strings: string[];
  };
  const fields = snap.snapshot.meta.node_fields;
  const width = fields.length;
  const typeAt = fields.indexOf('type');
  const nameAt = fields.indexOf('name');
  const sizeAt = fields.indexOf('self_size');
  const types = snap.snapshot.meta.node_types[0];
  const objectType = types.indexOf('object');
  const objects = new Map<string, number>();
  const bytesByType = new Map<string, number>();
  let bytes = 0;
  let nodes = 0;
  for (let i = 0; i < snap.nodes.length; i += width) {
    const size = snap.nodes[i + sizeAt]!;
    const type = types[snap.nodes[i + typeAt]!] ?? 'unknown';
    bytes += size;
    nodes++;
    bytesByType.set(type, (bytesByType.get(type) ?? 0) + size);
    if (snap.nodes[i + typeAt] !== objectType) continue;
    const name = snap.strings[snap.nodes[i + nameAt]!]!;
    objects.set(name, (objects.get(name) ?? 0) + 1);
  }
  return { bytes, nodes, objects, bytesByType };
}

export interface HeapSnapshotOptions {
  /** the signal given to heapSnapshotOptions (default SIGUSR2) */
  signal?: NodeJS.Signals;
  /** keep the snapshot under this name (to open it in Chrome's DevTools); else it is deleted once read */
  keepAs?: string;
  /** default 60 s */
  timeoutMs?: number;
}

/**
 * Has process `pid` (started with heapSnapshotOptions(dir)) write a heap
 * snapshot into `dir`, waits until it is whole and reads it.
 */
export async function heapSnapshot(pid: number, dir: string, options: HeapSnapshotOptions = {}): Promise<HeapFigures> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  const before = new Set(fs.readdirSync(dir));
  process.kill(pid, options.signal ?? 'SIGUSR2');
  let file: string | undefined;
  let lastError = '';
  for (;;) {
    file ??= fs.readdirSync(dir).find((f) => !before.has(f) && f.endsWith('.heapsnapshot'));
    if (file) {
      // written in pieces: read once it parses
      try {
        const figures = readHeapSnapshot(path.join(dir, file));
        if (options.keepAs) fs.renameSync(path.join(dir, file), options.keepAs);
        else fs.rmSync(path.join(dir, file));
        return figures;
      } catch (err) {
        lastError = (err as Error).message;
      }
    }
    if (Date.now() > deadline) {
      throw new Error(
        file
          ? `heap snapshot ${file} of process ${pid} was not whole within ${timeoutMs} ms: ${lastError}`
          : `process ${pid} wrote no heap snapshot into ${dir} within ${timeoutMs} ms`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Open file descriptors of a process (its sockets, timerfds, pipes, files). */
export function openFds(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}
