import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { BodyLane } from '../src/body/lane.ts';
import { readChunks, readInto } from '../src/body/read.ts';

// The body lane's receive slots and pacing (api/src/body/lane.ts) and the body readers
// (api/src/body/read.ts), without HTTP: large-body.test.ts covers the same through the API.
const lanes: BodyLane[] = [];
afterEach(async () => {
  for (const l of lanes.splice(0)) await l.close();
});

function lane(over: Partial<ConstructorParameters<typeof BodyLane>[0]> = {}): BodyLane {
  const l = new BodyLane({ slotBytes: 1024, rate: 0, maxDepth: 32, maxValues: 20_000, ...over });
  lanes.push(l);
  return l;
}

/** true when `p` has settled after the current turns of the event loop (it never waits on a timer) */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(() => {
    done = true;
  });
  await new Promise((r) => setImmediate(r));
  return done;
}

const stay = () => false;

describe('receive slots', () => {
  it('two bodies get a slot at once; a third waits unread until one is given back, then takes that one', async () => {
    const l = lane();
    const a = await l.receiveSlot(10, stay);
    const b = await l.receiveSlot(10, stay);
    expect(a && b && a.slot !== b.slot).toBe(true);
    const c = l.receiveSlot(10, stay);
    expect(await settled(c)).toBe(false);
    l.freeSlot(a!.slot);
    expect((await c)?.slot).toBe(a!.slot);
  });

  it('a waiter whose client went away is skipped: the slot goes to the next one', async () => {
    const l = lane();
    const held = [await l.receiveSlot(10, stay), await l.receiveSlot(10, stay)];
    let left = false;
    const gone = l.receiveSlot(10, () => left);
    const next = l.receiveSlot(10, stay);
    left = true;
    l.freeSlot(held[0]!.slot);
    expect(await gone).toBeUndefined();
    expect((await next)?.slot).toBe(held[0]!.slot);
  });

  it('a body in a slot is parsed by the worker as the same bytes in a buffer would be, and frees its slot', async () => {
    const l = lane({ queue: 0 }); // one slot
    const text = JSON.stringify({ items: [{ title: 'é ✓', n: [1, 2, 3] }] });
    const got = await l.receiveSlot(Buffer.byteLength(text), stay);
    got!.bytes.write(text);
    const inSlot = await l.parse({ slot: got!.slot, length: got!.bytes.length }, 'POST /x', undefined);
    expect(inSlot).toEqual(await l.parse(Buffer.from(text), 'POST /x', undefined));
    expect(inSlot).toMatchObject({ ok: true, value: JSON.parse(text) });
    expect(await settled(l.receiveSlot(10, stay))).toBe(true);
  });

  it('a body larger than a slot, or a lane without slots, gets none (it is read as chunks)', async () => {
    expect(await lane().receiveSlot(1025, stay)).toBeUndefined();
    expect(await lane({ slotBytes: 0 }).receiveSlot(10, stay)).toBeUndefined();
  });
});

describe('pacing', () => {
  it('at `rate` bytes/s the first body is read at once and the next waits for its turn; close wakes it', async () => {
    const l = lane({ rate: 1 }); // 1 byte/s: the second 10-byte body is due in 10 s
    expect(await l.receiveSlot(10, stay)).toBeDefined();
    const second = l.receiveSlot(10, stay);
    expect(await settled(second)).toBe(false);
    await l.close();
    expect(await second).toBeUndefined();
  });

  it('without a rate nothing waits', async () => {
    const l = lane({ rate: 0 });
    const a = await l.receiveSlot(1000, stay);
    l.freeSlot(a!.slot);
    expect(await settled(l.receiveSlot(1000, stay))).toBe(true);
  });
});

describe('body readers', () => {
  const chunks = (...parts: string[]) => Readable.from(parts.map((p) => Buffer.from(p)));

  it('readInto copies the chunks into the slot', async () => {
    const into = Buffer.alloc(11);
    expect(await readInto(chunks('hello', ' ', 'world'), into, 100)).toBe(11);
    expect(into.toString()).toBe('hello world');
  });

  it('more or fewer bytes than declared: invalid content length (400); past the limit: 413; a stream error: 400', async () => {
    await expect(readInto(chunks('hello', ' world!'), Buffer.alloc(11), 100)).rejects.toMatchObject({
      code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH',
      statusCode: 400,
    });
    await expect(readInto(chunks('hello'), Buffer.alloc(11), 100)).rejects.toMatchObject({
      code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH',
    });
    await expect(readInto(chunks('hello', ' world'), Buffer.alloc(11), 8)).rejects.toMatchObject({
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
      statusCode: 413,
    });
    const broken = new Readable({
      read() {
        this.destroy(new Error('aborted'));
      },
    });
    await expect(readInto(broken, Buffer.alloc(11), 100)).rejects.toMatchObject({
      message: 'aborted',
      statusCode: 400,
    });
  });

  it('readChunks: one buffer of what arrived, the same checks (no declared length: only the limit)', async () => {
    expect((await readChunks(chunks('ab', 'cd'), Number.NaN, 100)).toString()).toBe('abcd');
    expect((await readChunks(chunks('ab', 'cd'), 4, 100)).toString()).toBe('abcd');
    await expect(readChunks(chunks('ab', 'cd'), 3, 100)).rejects.toMatchObject({
      code: 'FST_ERR_CTP_INVALID_CONTENT_LENGTH',
    });
    await expect(readChunks(chunks('ab', 'cd'), Number.NaN, 3)).rejects.toMatchObject({
      code: 'FST_ERR_CTP_BODY_TOO_LARGE',
    });
  });
});
