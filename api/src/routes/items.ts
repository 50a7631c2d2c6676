import { randomBytes, randomUUID } from 'node:crypto';
import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorCodeOf } from '@feedlog/common';
import { type RawHeadline, rawHeadlineOf } from '@feedlog/schemas';
import type { ErrorObject } from 'ajv';
import { callerOf } from '../auth.ts';
import { errors } from '../errors.ts';
import type { EncodedRecord } from '../plugins/kafka.ts';
import { ErrorBody, type FeedItem, type ItemProblem, ItemsAccepted, ItemsQuery, itemsBody } from '../schemas.ts';
import { itemProblems, semanticProblems } from '../validation.ts';

const traceparentRe = /^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/;

export interface ItemsRouteOptions {
  maxBatch: number;
}

/** POST /v1/items: validate a batch, produce the valid items to raw-headlines, record the job. */
export const itemsRoutes: FastifyPluginAsyncTypebox<ItemsRouteOptions> = async (app, opts) => {
  app.post(
    '/items',
    {
      schema: {
        tags: ['items'],
        summary: 'Push a batch of feed items',
        description:
          'Validates every item; produces the batch to raw-headlines keyed by item id (idempotent producer) and answers 202 with the job id and each item id. ' +
          'A batch with an invalid item is refused whole (400 naming every invalid item and field) unless `partial=true`. ' +
          'Item ids are stable: the same (source, guid or canonical URL) always gets the same id.',
        querystring: ItemsQuery,
        body: itemsBody(opts.maxBatch),
        response: {
          202: ItemsAccepted,
          400: ErrorBody,
          401: ErrorBody,
          403: ErrorBody,
          411: ErrorBody,
          413: ErrorBody,
          415: ErrorBody,
          429: ErrorBody,
          503: ErrorBody,
        },
        security: [{ apiKey: [] }],
      },
      attachValidation: true,
      config: { scope: 'write' },
    },
    async (req, reply) => {
      const caller = callerOf(req);
      // Fastify validates the body before the query string, so after a body error the query is
      // still raw text: read `partial` both ways.
      const partial = String(req.query.partial) === 'true';
      let problems: ItemProblem[] = [];
      if (req.validationError) {
        if (req.validationError.validationContext !== 'body') {
          throw errors.invalidRequest(
            (req.validationError.validation as ErrorObject[] | undefined)?.map((v) => ({
              field: v.instancePath.slice(1) || null,
              message: v.message ?? 'invalid',
            })) ?? null,
            req.validationError.message,
          );
        }
        const found = itemProblems((req.validationError.validation ?? []) as ErrorObject[]);
        if (found.envelope.length) {
          throw errors.invalidRequest(found.envelope, `the body must be {"items": [1..${opts.maxBatch} items]}`);
        }
        problems = found.items;
      }
      const items = req.body.items as FeedItem[];
      const reported = new Set(problems.map((p) => `${p.index}:${p.field}`));
      problems = [...problems, ...semanticProblems(items, reported)].sort(
        (a, b) => (a.index ?? -1) - (b.index ?? -1) || String(a.field).localeCompare(String(b.field)),
      );
      const bad = new Set(problems.map((p) => p.index as number));
      if (bad.size) app.metrics.itemsRejected.inc({ caller }, bad.size);
      if (bad.size && (!partial || bad.size === items.length)) throw errors.invalidItems(problems, bad.size);

      const jobId = randomUUID();
      const ingestedAt = Date.now();
      const incoming = req.headers.traceparent;
      const traceparent =
        typeof incoming === 'string' && traceparentRe.test(incoming)
          ? incoming
          : `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-01`;
      const accepted: { index: number; item_id: string; record: RawHeadline }[] = [];
      items.forEach((it, index) => {
        if (bad.has(index)) return;
        const record = rawHeadlineOf(it, jobId, ingestedAt);
        accepted.push({
          index,
          item_id: record.item_id,
          record,
        });
      });

      // An item repeated in the batch (same id) is produced once: the job expects distinct items,
      // as its progress counts them, so it can finish. The answer names each repeat.
      const firstIndex = new Map<string, number>();
      const duplicates: { index: number; item_id: string; duplicate_of: number }[] = [];
      const distinct = accepted.filter((a) => {
        const first = firstIndex.get(a.item_id);
        if (first === undefined) {
          firstIndex.set(a.item_id, a.index);
          return true;
        }
        duplicates.push({ index: a.index, item_id: a.item_id, duplicate_of: first });
        return false;
      });

      const t0 = performance.now();
      let encoded: EncodedRecord[];
      try {
        encoded = await Promise.all(
          distinct.map(async (a) => ({
            key: a.item_id,
            value: await app.ingest.encoder.encode(a.record),
            headers: { traceparent },
          })),
        );
      } catch (e) {
        const code = errorCodeOf(e);
        req.log.error({ err: e, code }, 'encoding RawHeadline failed');
        reply.header('retry-after', '5');
        throw errors.unavailable(
          code === 'FEEDLOG_SCHEMA_NOT_REGISTERED'
            ? 'RawHeadline is not registered in the schema registry; nothing was accepted'
            : 'the schema registry is unavailable; nothing was accepted',
        );
      }

      const jobsTable = await app.db.has('jobs').catch(() => false);
      let jobRecorded = false;
      if (jobsTable) {
        try {
          await app.db
            .required()
            .query(
              "INSERT INTO jobs (id, kind, caller, expected_count, status, details) VALUES ($1, 'ingest', $2, $3, 'running', $4)",
              [
                jobId,
                caller,
                distinct.length,
                JSON.stringify({ rejected: bad.size, partial, duplicates: duplicates.length }),
              ],
            );
          jobRecorded = true;
        } catch (e) {
          // Kafka is the source of truth: the materializer creates the job on first sight.
          req.log.warn({ err: e, jobId }, 'could not record the job in PostgreSQL; ingesting anyway');
        }
      }

      try {
        await app.ingest.sink.send(encoded);
      } catch (e) {
        req.log.error({ err: e, jobId }, 'producing to raw-headlines failed');
        if (jobRecorded) {
          await app.db
            .required()
            .query(
              'UPDATE jobs SET status = \'failed\', details = details || \'{"error":"produce failed"}\' WHERE id = $1',
              [jobId],
            )
            .catch(() => undefined);
        }
        reply.header('retry-after', '2');
        throw errors.unavailable(
          'Kafka did not acknowledge the batch; post it again (item ids are stable, so a retry never duplicates an item downstream)',
        );
      }
      app.metrics.produceSeconds.observe((performance.now() - t0) / 1000);
      app.metrics.itemsAccepted.inc({ caller }, distinct.length);
      reply.code(202).header('location', `/v1/jobs/${jobId}`);
      return {
        job_id: jobId,
        accepted: accepted.length,
        items: accepted.map((a) => ({ index: a.index, item_id: a.item_id })),
        distinct: distinct.length,
        duplicates,
        rejected: problems,
      };
    },
  );
};
