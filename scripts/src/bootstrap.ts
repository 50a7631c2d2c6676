import { createKafka, type FeedlogConfig } from '@feedlog/common';
import pg from 'pg';
import type { Log } from './stack.ts';

export interface BootstrapReport {
  topicsChanged: number;
  subjectsRegistered: number;
  migrationsApplied: string[];
}

/**
 * What the pipeline needs before any stage or the API starts: topics as declared, every schema
 * registered under its subject, PostgreSQL migrated. Each step is idempotent.
 */
export async function bootstrap(config: FeedlogConfig, log: Log): Promise<BootstrapReport> {
  const [{ applyTopics }, { registerAll, RegistryRestClient }, { migrate }] = await Promise.all([
    import('@feedlog/topics'),
    import('@feedlog/schemas'),
    import('@feedlog/migrations'),
  ]);
  const admin = createKafka(config, { clientId: 'feedlog-bootstrap' }).admin();
  let topicsChanged = 0;
  try {
    const r = await applyTopics({ admin });
    topicsChanged = r.applied.length;
    if (topicsChanged) log(`topics: ${topicsChanged} change(s) applied`);
  } finally {
    await admin.disconnect();
  }
  const schemas = await registerAll(new RegistryRestClient(config.registry.url));
  const pool = new pg.Pool({ connectionString: config.postgres.url, max: 2 });
  try {
    const m = await migrate(pool, { log });
    if (m.applied.length) log(`migrations applied: ${m.applied.join(', ')}`);
    return { topicsChanged, subjectsRegistered: schemas.registered.length, migrationsApplied: m.applied };
  } finally {
    await pool.end();
  }
}
