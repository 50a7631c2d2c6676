import { KafkaContainer } from '@testcontainers/kafka';
import { PostgreSqlContainer } from '@testcontainers/postgresql';

/** Docker path of the test harness: the same images docker-compose.kafka.yml uses. */
export async function startContainers(): Promise<{ env: Record<string, string>; stop: () => Promise<void> }> {
  const [kafka, postgres] = await Promise.all([
    new KafkaContainer('apache/kafka:3.9.2').withKraft().start(),
    new PostgreSqlContainer('postgres:15')
      .withDatabase('feedlog')
      .withUsername('feedlog')
      .withPassword('feedlog')
      .start(),
  ]);
  return {
    env: {
      KAFKA_BROKERS: `${kafka.getHost()}:${kafka.getMappedPort(9093)}`,
      DATABASE_URL: postgres.getConnectionUri(),
    },
    stop: async () => {
      await Promise.all([kafka.stop(), postgres.stop()]);
    },
  };
}
