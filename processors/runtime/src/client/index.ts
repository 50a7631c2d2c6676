import type { Kafka } from 'kafkajs';
import { kafkajsClient } from './kafkajs.ts';
import type { ClientName, StageClient } from './types.ts';

export { kafkajsClient } from './kafkajs.ts';
export type * from './types.ts';

/**
 * The runtime's Kafka client by name (FEEDLOG_KAFKA_CLIENT). kafkajs wraps the given client;
 * platformatic is loaded only when chosen (it needs Node >= 22, which the config checks).
 */
export async function createStageClient(name: ClientName, kafka: Kafka, clientId: string): Promise<StageClient> {
  if (name === 'kafkajs') return kafkajsClient(kafka);
  const { platformaticClient } = await import('./platformatic.ts');
  return platformaticClient({ clientId });
}
