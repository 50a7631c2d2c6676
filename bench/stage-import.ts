// Start-up cost of a stage process without Kafka: load the classify stage's whole module graph
// (runtime, telemetry, schemas, kafkajs, the model code) and exit. Timed as a whole process:
//   node --import tsx bench/stage-import.ts                       (any Node)
//   node --experimental-transform-types bench/stage-import.ts     (Node ≥ 22.7, no loader)
import '@feedlog/telemetry';
import '../processors/classify/src/stage.ts';
