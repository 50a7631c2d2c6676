import type { VectorIndex } from '@feedlog/index/types';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

declare module 'fastify' {
  interface FastifyInstance {
    vectorIndex: { index: VectorIndex | undefined; alias: string };
  }
}

/** The vector index search reads (embedded or Qdrant, see @feedlog/index) and the serving alias. */
export const indexPlugin = fp<{ index?: VectorIndex; alias?: string; closeIndex?: boolean }>(
  async (app: FastifyInstance, opts) => {
    app.decorate('vectorIndex', { index: opts.index, alias: opts.alias ?? 'headlines' });
    if (opts.index && opts.closeIndex !== false) {
      const index = opts.index;
      app.addHook('onClose', async () => index.close());
    }
  },
  { name: 'feedlog-index' },
);
