/**
 * A codec that passes values by reference (a 4-byte handle into a map): unit tests drive a stage
 * in memory with it and need no schema registry. Structurally a `Codec<T>` of @feedlog/runtime
 * (not imported: the runtime's own tests depend on this package).
 */
export function refCodec<T>(): {
  encode(value: T, subject?: string): Promise<Buffer>;
  decode(buf: Buffer): Promise<T>;
} {
  const store = new Map<number, T>();
  let next = 0;
  return {
    async encode(v: T) {
      const id = next++;
      store.set(id, v);
      const b = Buffer.alloc(4);
      b.writeUInt32BE(id);
      return b;
    },
    async decode(b: Buffer) {
      return store.get(b.readUInt32BE(0)) as T;
    },
  };
}
