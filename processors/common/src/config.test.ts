import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.ts';

describe('loadConfig', () => {
  it('derives client addresses from the launcher ports by default', () => {
    const c = loadConfig({ FEEDLOG_ROOT: '/r', KAFKA_PORT: '19092', POSTGRES_PORT: '6000' });
    expect(c.kafka.brokers).toEqual(['127.0.0.1:19092']);
    expect(c.postgres.url).toBe('postgres://feedlog@127.0.0.1:6000/feedlog');
    expect(c.home).toBe('/r/.feedlog');
  });

  it('lists every node of a local multi-broker cluster', () => {
    const c = loadConfig({ KAFKA_PORT: '29092', KAFKA_NODES: '3' });
    expect(c.kafka.nodes).toBe(3);
    expect(c.kafka.brokers).toEqual(['127.0.0.1:29092', '127.0.0.1:29093', '127.0.0.1:29094']);
  });

  it('prefers explicit client addresses', () => {
    const c = loadConfig({ KAFKA_BROKERS: 'a:1, b:2', DATABASE_URL: 'postgres://x@h:1/db' });
    expect(c.kafka.brokers).toEqual(['a:1', 'b:2']);
    expect(c.postgres.url).toBe('postgres://x@h:1/db');
  });

  it('names every invalid variable at once', () => {
    expect(() => loadConfig({ KAFKA_PORT: '70000', KAFKA_HEAP: 'lots' })).toThrowError(ConfigError);
    try {
      loadConfig({ KAFKA_PORT: '70000', KAFKA_HEAP: 'lots' });
    } catch (e) {
      expect(String(e)).toMatch(/KAFKA_PORT="70000": expected an integer from 1 to 65535/);
      expect(String(e)).toMatch(/KAFKA_HEAP="lots"/);
    }
  });

  it('refuses an empty KAFKA_BROKERS or DATABASE_URL instead of falling back to the local stack', () => {
    expect(() => loadConfig({ KAFKA_BROKERS: '' })).toThrowError(/KAFKA_BROKERS is set but empty/);
    expect(() => loadConfig({ KAFKA_BROKERS: 'a:1,,' })).not.toThrow();
    expect(() => loadConfig({ KAFKA_BROKERS: 'a' })).toThrowError(/each entry must be host:port: a/);
    expect(() => loadConfig({ DATABASE_URL: 'http://x' })).toThrowError(
      /DATABASE_URL="http:\/\/x": expected a postgres\/postgresql URL/,
    );
  });

  it('reads the topic prefix under its one name, and the old TOPIC_PREFIX when alone', () => {
    expect(loadConfig({ FEEDLOG_TOPIC_PREFIX: 'it-a-' }).topicPrefix).toBe('it-a-');
    expect(loadConfig({ TOPIC_PREFIX: 'it-b-' }).topicPrefix).toBe('it-b-');
    expect(() => loadConfig({ FEEDLOG_TOPIC_PREFIX: 'a b' })).toThrowError(/FEEDLOG_TOPIC_PREFIX="a b"/);
  });
});
