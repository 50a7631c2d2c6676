export { registerOpsCommands } from './cli.ts';
export { type Decoded, RecordDecoder } from './decode.ts';
export { type ItemJourney, type ItemOptions, itemJourney } from './item.ts';
export { partitionsOfKey } from './partition.ts';
export { type RawRecord, type Reader, type ReaderOptions, startReader } from './reader.ts';
export { generationOf, recordJson, recordLine, type SeenRecord, shorten, summarize } from './render.ts';
export { allTopics, startTail, type TailOptions } from './tail.ts';
