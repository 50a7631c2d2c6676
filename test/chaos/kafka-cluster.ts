import { readFileSync, writeFileSync } from 'node:fs';
import { loadConfig } from '@feedlog/common';
import {
  type KafkaClusterSpec,
  kafkaNodes,
  prepareKafka,
  startKafkaNode,
  stopKafkaCluster,
  stopKafkaNode,
  waitKafkaReady,
} from '@feedlog/scripts/launch/kafka';
import { StallProxy } from './proxy.ts';

/**
 * Three KRaft nodes of the chaos run's own, from the project's launcher (RF 3 and
 * min.insync.replicas 2 for the feedlog topics, as topics-as-code declares them). Node 1 advertises
 * the address of a stall proxy in front of it, so every client — and the other brokers' replica
 * fetchers — reach it only through the proxy the suite controls.
 */
export class KafkaCluster {
  readonly spec: KafkaClusterSpec;
  readonly proxy: StallProxy;
  private lib = '';

  constructor(
    dir: string,
    port: number,
    private readonly log: (line: string) => void,
  ) {
    const config = loadConfig();
    this.spec = {
      dir,
      cache: config.cache,
      version: config.kafka.version,
      brokers: 3,
      port,
      controllerPort: port + 100,
      heap: '384m',
    };
    this.proxy = new StallProxy(port + 50, { host: '127.0.0.1', port });
  }

  /** what clients bootstrap from: node 1 through its proxy, nodes 2 and 3 directly */
  get bootstrap(): string[] {
    return kafkaNodes(this.spec).map((n) => `127.0.0.1:${n.id === 1 ? this.proxy.port : n.port}`);
  }

  async start(): Promise<void> {
    this.lib = prepareKafka(this.spec, this.log);
    const node1 = kafkaNodes(this.spec)[0];
    if (!node1) throw new Error('no node 1');
    // the launcher writes the properties in prepareKafka; node 1 then advertises the proxy
    const props = readFileSync(node1.propsFile, 'utf8').replace(
      /^advertised\.listeners=.*$/m,
      `advertised.listeners=PLAINTEXT://127.0.0.1:${this.proxy.port}`,
    );
    writeFileSync(node1.propsFile, props);
    await this.proxy.start();
    for (const n of kafkaNodes(this.spec)) await startKafkaNode(this.spec, this.lib, n.id, this.log);
    await this.ready();
  }

  ready(timeoutMs = 180_000): Promise<void> {
    return waitKafkaReady(this.bootstrap, 3, timeoutMs);
  }

  async kill(id: number): Promise<void> {
    await stopKafkaNode(this.spec, id, 'KILL');
  }

  /** Controlled shutdown (SIGTERM), as a rolling restart does. */
  async stopNode(id: number): Promise<void> {
    await stopKafkaNode(this.spec, id, 'TERM');
  }

  async startNode(id: number): Promise<void> {
    await startKafkaNode(this.spec, this.lib, id, this.log);
    await this.ready();
  }

  async stop(): Promise<void> {
    await stopKafkaCluster(this.spec);
    await this.proxy.stop();
  }
}
