import { ConfigError } from '../config/load.ts';
import type { Profile } from '../config/schema.ts';
import type { Engine } from './engine.ts';
import { referenceEngine } from './reference-engine.ts';

/** The engine a run's config names, ready to open sessions. */
export async function engineByName(name: string, _execution: Profile['execution']): Promise<Engine> {
  switch (name) {
    case 'reference':
      return referenceEngine;
    default:
      throw new ConfigError(`unknown training engine "${name}"`);
  }
}
