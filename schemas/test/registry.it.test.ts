import { randomBytes } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka, loadConfig } from '@feedlog/common';
import { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avro from 'avsc';
import { Command } from 'commander';
import type { Admin } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerSchemaCommands } from '../src/cli.ts';
import {
  IncompatibleSchemaError,
  PayloadDecodeError,
  RecordEncodeError,
  SchemaNotRegisteredError,
  UnknownSchemaIdError,
} from '../src/errors.ts';
import { schemasDir } from '../src/files.ts';
import { sampleRecords } from '../src/fixtures.ts';
import type { RecordName } from '../src/generated.ts';
import { loadSchemas } from '../src/load.ts';
import { checkCompatibility, RegistryRestClient, registerAll, seedFromGitRef } from '../src/registry.ts';
import { serdeFor } from '../src/serde.ts';
import { bytesToVector } from '../src/vector.ts';

// A Confluent-compatible registry at SCHEMA_REGISTRY_URL, which the integration setup always
// provides (processors/registry, or Confluent/Karapace/Apicurio), so nothing here probes or skips.
// Subjects get a unique prefix.
const url = loadConfig().registry.url;

const prefix = `it-schemas-${Date.now().toString(36)}${randomBytes(3).toString('hex')}-`;
const schemas = loadSchemas({ prefix });
const rest = new RegistryRestClient(url);

async function runCli(...args: string[]): Promise<{ out: string; exitCode: number }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  const before = process.exitCode;
  process.exitCode = 0;
  try {
    const program = new Command().exitOverride();
    registerSchemaCommands(program);
    await program.parseAsync(['node', 'feedlog', ...args]);
    return { out: lines.join('\n'), exitCode: Number(process.exitCode ?? 0) };
  } finally {
    process.exitCode = before;
    log.mockRestore();
  }
}

describe('schemas against a real registry', () => {
  let admin: Admin;
  const kafka = createKafka(loadConfig(), { clientId: 'feedlog-schemas-it' });
  const topic = `${prefix}raw-headlines`;

  beforeAll(async () => {
    admin = kafka.admin();
    await admin.connect();
  });
  afterAll(async () => {
    for (const s of (await rest.subjects()).filter((x) => x.startsWith(prefix))) {
      await rest.deleteSubject(s, true).catch(() => undefined);
    }
    const mine = (await admin.listTopics()).filter((t) => t.startsWith(prefix));
    if (mine.length) await admin.deleteTopics({ topics: mine }).catch(() => undefined);
    await admin.disconnect();
  });

  it('encode before registration is a typed error; register gives each subject an id, the same twice', async () => {
    const err = await serdeFor('RawHeadline', topic, { prefix, registryUrl: url })
      .encode(sampleRecords().RawHeadline)
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SchemaNotRegisteredError);

    const first = await registerAll(rest, { schemas });
    expect(first.registered.map((r) => r.subject).sort()).toEqual(schemas.subjects.map((s) => s.subject).sort());
    const second = await registerAll(rest, { schemas });
    expect(second.registered).toEqual(first.registered);
    // One record, one id, whatever subject carries it.
    const dlqIds = new Set(first.registered.filter((r) => r.record === 'DeadLetter').map((r) => r.id));
    expect(dlqIds.size).toBe(1);
  });

  it('round-trips every record through the registry and the broker', async () => {
    const samples = sampleRecords();
    const bindings = schemas.subjects.filter((b, i, all) => all.findIndex((x) => x.record === b.record) === i);
    expect(bindings).toHaveLength(6);
    const producer = kafka.producer();
    await producer.connect();
    await admin.createTopics({
      waitForLeaders: true,
      topics: bindings.map((b) => ({ topic: b.topic, numPartitions: 1, replicationFactor: 1 })),
    });
    for (const b of bindings) {
      const serde = serdeFor(b.record, b.topic, { prefix, registryUrl: url });
      const value = await serde.encode(samples[b.record] as never);
      expect(value[0]).toBe(0);
      expect(value.readInt32BE(1)).toBe(await serde.schemaId());
      await producer.send({ topic: b.topic, messages: [{ key: 'k', value }] });
    }
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: `${prefix}g` });
    await consumer.connect();
    await consumer.subscribe({ topics: bindings.map((b) => b.topic), fromBeginning: true });
    const got = new Map<string, unknown>();
    await consumer.run({
      eachMessage: async ({ topic: t, message }) => {
        const record = schemas.recordOf(t);
        got.set(record, await serdeFor(record, t, { prefix, registryUrl: url }).decode(message.value!));
      },
    });
    await expect.poll(() => got.size, { timeout: 30_000, interval: 200 }).toBe(6);
    await consumer.disconnect();
    for (const [record, value] of got) expect(value, record).toEqual(samples[record as RecordName]);
    const embedded = got.get('EmbeddedHeadline') as (typeof samples)['EmbeddedHeadline'];
    expect(Array.from(bytesToVector(embedded.embedding.vector, embedded.embedding.dimensions))).toHaveLength(8);
  });

  it('decodes a message written by a newer schema version into the local shape', async () => {
    const subject = `${topic}-value`;
    const next = JSON.parse(schemas.files.RawHeadline.text);
    next.fields.push({ name: 'lang', type: ['null', 'string'], default: null, doc: 'ISO 639-1' });
    const writer = avro.Type.forSchema(next);
    const id = await rest.register(subject, JSON.stringify(next));
    const body = writer.toBuffer({ ...sampleRecords().RawHeadline, lang: 'en' });
    const header = Buffer.alloc(5);
    header.writeInt32BE(id, 1);
    const decoded = await serdeFor('RawHeadline', topic, { prefix, registryUrl: url }).decode(
      Buffer.concat([header, body]),
    );
    expect(decoded).toEqual(sampleRecords().RawHeadline);
    expect(decoded).not.toHaveProperty('lang');
  });

  it('turns bad messages into typed non-retriable errors', async () => {
    const serde = serdeFor('RawHeadline', topic, { prefix, registryUrl: url });
    const good = await serde.encode(sampleRecords().RawHeadline);

    const unknown = Buffer.from(good);
    unknown.writeInt32BE(2_000_000_000, 1);
    const e1 = await serde.decode(unknown).catch((e: unknown) => e);
    expect(e1).toBeInstanceOf(UnknownSchemaIdError);
    expect(e1).toMatchObject({ retriable: false, schemaId: 2_000_000_000 });

    const e2 = await serde.decode(good.subarray(0, good.length - 10)).catch((e: unknown) => e);
    expect(e2).toBeInstanceOf(PayloadDecodeError);
    expect(e2).toMatchObject({ retriable: false });

    // A message written with another subject's schema that cannot be read as RawHeadline.
    const dlqId = await rest.register(`${prefix}classify.dlq-value`, schemas.files.DeadLetter.text);
    const other = Buffer.concat([
      Buffer.from([0, 0, 0, 0, 0]),
      schemas.types.DeadLetter.toBuffer(sampleRecords().DeadLetter),
    ]);
    other.writeInt32BE(dlqId, 1);
    const e3 = await serde.decode(other).catch((e: unknown) => e);
    expect(e3).toBeInstanceOf(IncompatibleSchemaError);

    // An invalid value on the way out names the offending field.
    const bad = { ...sampleRecords().RawHeadline, headline: { ...sampleRecords().RawHeadline.headline, title: 42 } };
    const e4 = await serde.encode(bad as never).catch((e: unknown) => e);
    expect(e4).toBeInstanceOf(RecordEncodeError);
    expect((e4 as RecordEncodeError).paths).toEqual(['headline.title']);
  });

  it('works with the client the rest of feedlog uses (getLatestSchemaId agrees with register)', async () => {
    const client = new SchemaRegistry({ host: url });
    const latest = await client.getLatestSchemaId(`${prefix}classified-value`);
    const { registered } = await registerAll(rest, { schemas });
    expect(registered.find((r) => r.subject === `${prefix}classified-value`)?.id).toBe(latest);
  });

  it('schemas check passes when compatible and fails naming subject and field when not', async () => {
    const ok = await runCli('schemas', 'check', '--registry', url, '--prefix', prefix);
    expect(ok.exitCode).toBe(0);
    expect(ok.out).toMatch(/all \d+ subjects compatible/);

    // A local copy of schemas/ where Headline gains a field without a default in every file.
    const dir = mkdtempSync(join(tmpdir(), 'feedlog-schemas-'));
    try {
      cpSync(schemasDir, dir, { recursive: true, filter: (src) => !src.includes('node_modules') });
      for (const r of ['RawHeadline', 'ClassifiedHeadline']) {
        const file = join(dir, `${r}.avsc`);
        const json = JSON.parse(readFileSync(file, 'utf8'));
        json.fields[2].type.fields.push({ name: 'country', type: 'string', doc: 'required: breaks BACKWARD' });
        writeFileSync(file, JSON.stringify(json, null, 2));
      }
      const bad = await runCli('schemas', 'check', '--registry', url, '--prefix', prefix, '--schemas-dir', dir);
      expect(bad.exitCode).toBe(1);
      expect(bad.out).toMatch(new RegExp(`INCOMPATIBLE ${prefix}raw-headlines-value`));
      expect(bad.out).toMatch(/field RawHeadline\.headline\.country: added without a default/);
      expect(bad.out).toMatch(new RegExp(`INCOMPATIBLE ${prefix}classified-value`));
      expect(bad.out).not.toMatch(new RegExp(`INCOMPATIBLE ${prefix}embedded-value`));

      const json = await runCli(
        'schemas',
        'check',
        '--registry',
        url,
        '--prefix',
        prefix,
        '--schemas-dir',
        dir,
        '--json',
      );
      const parsed = JSON.parse(json.out) as { ok: boolean; results: { subject: string; status: string }[] };
      expect(parsed.ok).toBe(false);
      expect(
        parsed.results
          .filter((r) => r.status === 'incompatible')
          .map((r) => r.subject)
          .sort(),
      ).toEqual([`${prefix}classified-value`, `${prefix}raw-headlines-value`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('seed-from a git ref registers the schemas as they were there; check then compares against them', async () => {
    const seedPrefix = `${prefix}seed-`;
    const seeded = loadSchemas({ prefix: seedPrefix });
    const r = await seedFromGitRef(rest, 'HEAD', { cwd: schemasDir, schemas: seeded });
    expect(r.registered.length + r.skipped.length).toBe(seeded.subjects.length);
    const results = await checkCompatibility(rest, { schemas: seeded });
    expect(results.filter((x) => x.status === 'incompatible')).toEqual([]);
    expect(results.filter((x) => x.status === 'new-subject').length).toBe(r.skipped.length);
    await expect(seedFromGitRef(rest, 'no-such-ref-xyz', { cwd: schemasDir, schemas: seeded })).rejects.toThrow();
  });
});
