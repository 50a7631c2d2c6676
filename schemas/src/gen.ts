// `npm run -w @feedlog/schemas gen`: regenerate src/generated.ts from the .avsc files.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateTypes } from './codegen.ts';
import { readSchemaFiles, schemasDir } from './files.ts';

const target = join(schemasDir, 'src/generated.ts');
const files = readSchemaFiles();
writeFileSync(target, generateTypes(files));
console.log(`wrote ${target} (${files.length} records)`);
