/**
 * An error the user can fix, said so that they can: bad input (a config field, a flag, a file that is
 * missing or not what it should be) or a setup step not done, in a message that names what is wrong.
 * Every command ends on one the same way (commands/run.ts): `error: <message>` on stderr and exit status 2.
 * Any other error is a bug and ends the command with its stack. A leaf: it imports nothing, so every
 * module may throw one.
 */
export class UserError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserError';
  }
}
