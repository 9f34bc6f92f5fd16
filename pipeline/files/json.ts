import { readFileSync } from 'node:fs';
import { FormatError } from './error.ts';
import { writeFileAtomic } from './atomic.ts';

/** The project's one JSON reader: a missing or malformed file is a FormatError naming it. */
export function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new FormatError(file, `cannot be read (${(e as NodeJS.ErrnoException).code ?? String(e)})`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new FormatError(file, `not valid JSON (${(e as Error).message})`);
  }
}

/** JSON with a trailing newline, written atomically; numbers use JavaScript's shortest round-trip form. */
export function writeJsonAtomic(file: string, value: unknown): void {
  writeFileAtomic(file, JSON.stringify(value, null, 1) + '\n');
}
