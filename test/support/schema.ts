import fs from 'node:fs';
import path from 'node:path';
import { Ajv } from 'ajv';
import { ROOT } from './models.js';

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });

/** Validates a document against schemas/<name>.schema.json; returns the errors as text ('' if valid). */
export function schemaErrors(name: string, doc: unknown): string {
  const schema = JSON.parse(fs.readFileSync(path.join(ROOT, 'schemas', `${name}.schema.json`), 'utf8'));
  const validate = ajv.getSchema(schema.$id) ?? ajv.compile(schema);
  return validate(doc) ? '' : ajv.errorsText(validate.errors, { separator: '\n' });
}
