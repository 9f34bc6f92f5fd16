import { UserError } from '../errors.ts';

/** A file that cannot be read as what it should be: missing, truncated, corrupt or foreign. The message names the file. */
export class FormatError extends UserError {
  constructor(file: string, problem: string) {
    super(`${file}: ${problem}`);
    this.name = 'FormatError';
  }
}
