// feedlog runs on the Node 24 that `npm ci` installs (the devDependency `node`). These tests check
// that bin/feedlog picks it, and that every native addon the processes load works under it: a
// prebuilt or compiled `.node` file is tied to an ABI (N-API version or NODE_MODULE_VERSION), so a
// Node upgrade that breaks one shows here, not in a stage at start-up.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
const node24 = join(root, 'node_modules/node/bin/node');

/** Runs an ES module snippet on the project's Node 24 from the repository root; returns its stdout. */
function onNode24(code: string): string {
  const r = spawnSync(node24, ['--input-type=module', '-e', code], { cwd: root, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`exit ${r.status}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A package that a workspace depends on, resolved from that workspace (npm may not hoist it). */
const from = (workspace: string) => `createRequire(${JSON.stringify(join(root, workspace, 'package.json'))})`;
const head = "import { createRequire } from 'node:module';";

describe('the Node feedlog runs on', () => {
  it('is installed by npm ci as Node 24', () => {
    expect(existsSync(node24)).toBe(true);
    expect(onNode24('console.log(process.versions.node)')).toMatch(/^24\./);
  });

  it('is the one bin/feedlog starts, whatever Node started it', () => {
    const env = { ...process.env };
    delete env.FEEDLOG_NODE;
    const r = spawnSync(process.execPath, [join(root, 'bin/feedlog'), '--version'], { encoding: 'utf8', env });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^feedlog \d+\.\d+\.\d+\nnode v24\.\d+\.\d+\n$/);
  });
});

describe('native addons load and work on Node 24', () => {
  it('usearch (the index stage): add and search', () => {
    const out = onNode24(`${head}
      const { Index } = ${from('processors/index')}('usearch');
      const ix = new Index({ dimensions: 3, metric: 'l2sq', quantization: 'f32', connectivity: 8, expansion_add: 16, expansion_search: 16, multi: false });
      ix.add(7n, new Float32Array([1, 0, 0]));
      ix.add(9n, new Float32Array([0, 1, 0]));
      console.log(String(ix.search(new Float32Array([0.9, 0.1, 0]), 1).keys[0]));`);
    expect(out).toBe('7');
  });

  it('hnswlib-node (the index stage, second engine): add and search', () => {
    const out = onNode24(`${head}
      const { HierarchicalNSW } = ${from('processors/index')}('hnswlib-node');
      const ix = new HierarchicalNSW('l2', 3);
      ix.initIndex({ maxElements: 4 });
      ix.addPoint([1, 0, 0], 7);
      ix.addPoint([0, 1, 0], 9);
      console.log(ix.searchKnn([0.9, 0.1, 0], 1).neighbors[0]);`);
    expect(out).toBe('7');
  });

  it('onnxruntime-node (the embedder): runs a one-node model', () => {
    // The smallest ONNX model that exercises a session end to end: y = x + x over float[2].
    const model = Buffer.from(tinyAddModel()).toString('base64');
    const out = onNode24(`${head}
      const ort = ${from('processors/embedder')}('onnxruntime-node');
      const s = await ort.InferenceSession.create(Buffer.from('${model}', 'base64'));
      const r = await s.run({ x: new ort.Tensor('float32', new Float32Array([1.5, 2]), [2]) });
      console.log(Array.from(r.y.data).join(','));`);
    expect(out).toBe('3,4');
  });

  it('@node-rs/crc32 (@platformatic/kafka record batches): crc32c', () => {
    const out = onNode24(`${head}
      const pk = ${from('processors/lag')}.resolve('@platformatic/kafka');
      const { crc32c } = createRequire(pk)('@node-rs/crc32');
      console.log(crc32c(Buffer.from('123456789')).toString(16));`);
    expect(out).toBe('e3069283'); // the CRC-32C check value
  });

  it('@lancedb/lancedb (bench/index.ts --backends lancedb): connects', () => {
    const out = onNode24(`${head}
      const lancedb = ${from('bench')}('@lancedb/lancedb');
      const db = await lancedb.connect('memory://');
      console.log(JSON.stringify(await db.tableNames()));`);
    expect(out).toBe('[]');
  });
});

// --- a hand-encoded ONNX ModelProto (protobuf), so the test needs no model file ---
const varint = (n: number): number[] => {
  const out: number[] = [];
  while (n > 0x7f) {
    out.push((n & 0x7f) | 0x80);
    n >>>= 7;
  }
  out.push(n);
  return out;
};
const field = (no: number, bytes: number[]): number[] => [...varint((no << 3) | 2), ...varint(bytes.length), ...bytes];
const int = (no: number, v: number): number[] => [...varint(no << 3), ...varint(v)];
const str = (no: number, s: string): number[] => field(no, [...Buffer.from(s)]);

function tinyAddModel(): Uint8Array {
  // ValueInfoProto{name, type: TypeProto{tensor_type{elem_type FLOAT=1, shape{dim{dim_value 2}}}}}
  const value = (name: string) => [
    ...str(1, name),
    ...field(2, field(1, [...int(1, 1), ...field(2, field(1, int(1, 2)))])),
  ];
  const node = [...str(1, 'x'), ...str(1, 'x'), ...str(2, 'y'), ...str(4, 'Add')]; // NodeProto
  const graph = [...field(1, node), ...str(2, 'g'), ...field(11, value('x')), ...field(12, value('y'))];
  // ModelProto{ir_version 7, graph, opset_import{version 13}}
  return Uint8Array.from([...int(1, 7), ...field(7, graph), ...field(8, int(2, 13))]);
}
