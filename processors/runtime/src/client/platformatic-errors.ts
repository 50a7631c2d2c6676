/**
 * @platformatic/kafka wraps a broker's refusal in layers (MultipleErrors → ResponseError →
 * ProtocolError) whose top message says only "Received response with error while executing API …".
 * `brokerReason` digs out what the broker said (INVALID_PRODUCER_EPOCH, NOT_COORDINATOR, …), so
 * the runtime's TransactionError (FEEDLOG_TRANSACTION) and its logs carry the reason.
 */
export function brokerReason(e: unknown, depth = 0): string {
  if (!(e instanceof Error) || depth > 6) return String(e);
  const x = e as Error & { apiId?: string; errors?: unknown[]; cause?: unknown };
  const inner = [...(x.errors ?? []), ...(x.cause ? [x.cause] : [])];
  const reasons = [...new Set(inner.map((i) => brokerReason(i, depth + 1)).filter(Boolean))];
  const own = x.apiId ? `${x.apiId}: ${x.message}` : x.message;
  return reasons.length > 0 && x.apiId === undefined ? reasons.join('; ') : own;
}

/** the broker's error ids anywhere in the chain (`apiId` of each ProtocolError) */
export function apiIds(e: unknown, out = new Set<string>(), depth = 0): Set<string> {
  if (!(e instanceof Error) || depth > 6) return out;
  const x = e as Error & { apiId?: string; errors?: unknown[]; cause?: unknown };
  if (x.apiId) out.add(x.apiId);
  for (const i of x.errors ?? []) apiIds(i, out, depth + 1);
  if (x.cause) apiIds(x.cause, out, depth + 1);
  return out;
}

/** Re-throw a client error with the broker's reason in its message (the original as `cause`). */
export async function unwrapped<T>(what: string, p: Promise<T>): Promise<T> {
  try {
    return await p;
  } catch (e) {
    throw new Error(`${what}: ${brokerReason(e)}`, { cause: e });
  }
}
