import * as lancedb from '@lancedb/lancedb';

/**
 * LanceDB, measured as a candidate embedded backend in bench/index.ts (not the default: see the
 * package README for the comparison). A table of {id, category, vector} rows, an IVF-HNSW-SQ
 * index, vector search with an optional SQL `where` applied before the vector search.
 */
export class LanceCandidate {
  private constructor(
    private readonly db: lancedb.Connection,
    private table: lancedb.Table | undefined,
    readonly dims: number,
  ) {}

  static async open(dir: string, dims: number): Promise<LanceCandidate> {
    return new LanceCandidate(await lancedb.connect(dir), undefined, dims);
  }

  /** upsert by id (merge insert: update matched rows, insert the others) */
  async upsert(rows: { id: string; category: string; vector: Float32Array }[]): Promise<void> {
    const data = rows.map((r) => ({ id: r.id, category: r.category, vector: Array.from(r.vector) }));
    if (!this.table) {
      this.table = await this.db.createTable('headlines', data);
      return;
    }
    await this.table.mergeInsert('id').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data);
  }

  /** append without the id lookup (a bulk build) */
  async add(rows: { id: string; category: string; vector: Float32Array }[]): Promise<void> {
    const data = rows.map((r) => ({ id: r.id, category: r.category, vector: Array.from(r.vector) }));
    if (!this.table) this.table = await this.db.createTable('headlines', data);
    else await this.table.add(data);
  }

  async buildIndex(m: number, efConstruction: number): Promise<void> {
    await this.table!.createIndex('vector', {
      config: lancedb.Index.hnswSq({ distanceType: 'cosine', numPartitions: 1, m, efConstruction }),
    });
  }

  async search(q: Float32Array, k: number, ef: number, where?: string): Promise<{ id: string; distance: number }[]> {
    let query = this.table!.vectorSearch(Array.from(q)).distanceType('cosine').ef(ef).limit(k).select(['id']);
    if (where) query = query.where(where);
    const rows = (await query.toArray()) as { id: string; _distance: number }[];
    return rows.map((r) => ({ id: r.id, distance: r._distance }));
  }

  async count(): Promise<number> {
    return this.table ? this.table.countRows() : 0;
  }

  close(): void {
    this.table?.close();
    this.db.close();
  }
}
