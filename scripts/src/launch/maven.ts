import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LaunchError } from './errors.ts';
import { commandExists } from './process.ts';

// Kafka declares no logging backend; the broker itself is written against the log4j 1 API,
// so reload4j (the maintained log4j 1 fork Kafka 3.x ships) is the binding that keeps its logs.
const SLF4J_BINDING = { groupId: 'org.slf4j', artifactId: 'slf4j-reload4j', version: '1.7.36' };

/** What one cached Maven resolution holds: the broker, or Kafka's own command-line tools. */
export interface KafkaArtifact {
  /** folder under the cache: `kafka-<version>` or `kafka-tools-<version>` */
  dir: string;
  artifactId: 'kafka_2.13' | 'kafka-tools';
  what: string;
}
export const BROKER: KafkaArtifact = { dir: 'kafka', artifactId: 'kafka_2.13', what: 'broker jars' };
// kafka-consumer-groups, kafka-producer-perf-test… live in org.apache.kafka:kafka-tools since 3.7:
// the reference every lag/reset/throughput figure of feedlog is checked against.
export const TOOLS: KafkaArtifact = { dir: 'kafka-tools', artifactId: 'kafka-tools', what: 'command-line tools' };

function pom(version: string, artifact: KafkaArtifact): string {
  const dep = (g: string, a: string, v: string) =>
    `<dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  return `<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>dev.feedlog</groupId><artifactId>${artifact.dir}-runtime</artifactId><version>${version}</version>
  <packaging>pom</packaging>
  <dependencies>
    ${dep('org.apache.kafka', artifact.artifactId, version)}
    ${dep(SLF4J_BINDING.groupId, SLF4J_BINDING.artifactId, SLF4J_BINDING.version)}
  </dependencies>
</project>
`;
}

export function checkJava(): void {
  if (!commandExists('java')) {
    throw new LaunchError('Java is not installed: the local Kafka broker needs a Java 17+ runtime', {
      hint: 'apt-get update && apt-get install -y openjdk-17-jre-headless',
    });
  }
  const r = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const m = /version "(\d+)/.exec(r.stderr ?? '');
  if (m?.[1] && Number(m[1]) < 11) {
    throw new LaunchError(`Java ${m[1]} is too old for Kafka; 17 or newer is needed`, {
      hint: 'apt-get install -y openjdk-17-jre-headless',
    });
  }
}

/**
 * Resolves `org.apache.kafka:kafka_2.13:<version>` (or another Kafka artifact, e.g. the tools)
 * and its runtime dependencies from Maven Central into `<cache>/<dir>-<version>/lib`. A
 * `.complete` marker makes the second call a no-op, so later starts work offline.
 */
export function ensureKafkaJars(
  cacheDir: string,
  version: string,
  log: (s: string) => void,
  artifact: KafkaArtifact = BROKER,
): string {
  const base = join(cacheDir, `${artifact.dir}-${version}`);
  const lib = join(base, 'lib');
  if (existsSync(join(base, '.complete'))) return lib;
  if (!commandExists('mvn')) {
    throw new LaunchError('Maven is not installed: it fetches the Kafka broker jars from Maven Central', {
      hint: 'apt-get update && apt-get install -y maven',
    });
  }
  mkdirSync(base, { recursive: true });
  writeFileSync(join(base, 'pom.xml'), pom(version, artifact));
  const staging = join(base, 'lib.partial');
  rmSync(staging, { recursive: true, force: true });
  log(`fetching Apache Kafka ${version} ${artifact.what} from Maven Central (once; cached in ${base})`);
  const r = spawnSync(
    'mvn',
    [
      '-B',
      '-q',
      '-f',
      join(base, 'pom.xml'),
      // pinned plugin version: the same resolution on every machine, and a clear transfer error offline
      'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy-dependencies',
      '-DincludeScope=runtime',
      `-DoutputDirectory=${staging}`,
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
  );
  if (r.status !== 0) {
    const out = `${r.stdout ?? ''}\n${r.stderr ?? ''}`;
    const unreachable =
      /Could not transfer|transfer failed|No plugin found for prefix|UnknownHost|Connection (refused|timed out)|Network is unreachable|Could not resolve dependencies|Temporary failure in name resolution/i.test(
        out,
      );
    const tail = out.trim().split('\n').slice(-6).join('\n');
    throw new LaunchError(
      unreachable
        ? `Maven could not download Kafka ${version}: the Maven Central registry is unreachable from this machine, and the jars are not cached in ${base}`
        : `Maven failed to resolve Kafka ${version}:\n${tail}`,
      {
        hint: unreachable
          ? 'check network access to Maven Central (or a mirror in ~/.m2/settings.xml), then run `feedlog up` again'
          : undefined,
        retriable: unreachable,
      },
    );
  }
  const jars = readdirSync(staging).filter((f) => f.endsWith('.jar'));
  if (!jars.some((j) => j.startsWith(`${artifact.artifactId}-${version}`))) {
    throw new LaunchError(`Maven finished but ${artifact.artifactId}-${version}.jar is missing from ${staging}`);
  }
  rmSync(lib, { recursive: true, force: true });
  renameSync(staging, lib);
  writeFileSync(join(base, '.complete'), `${jars.length} jars\n`);
  log(`fetched ${jars.length} jars`);
  return lib;
}
