import { ConfigError } from '../config/load.ts';
import type { Profile } from '../config/schema.ts';
import type { Engine } from './engine.ts';
import { referenceEngine } from './reference-engine.ts';

/** The engine a run's config names, ready to open sessions. Close it when done. */
export async function engineByName(name: string, execution: Profile['execution']): Promise<Engine> {
  switch (name) {
    case 'reference':
      return referenceEngine;
    case 'fast':
      return (await import('../kernel/fast-engine.ts')).createFastEngine(execution.workers);
    case 'tfjs':
      return (await import('./tfjs-engine.ts')).createTfjsEngine();
    default:
      throw new ConfigError(`unknown training engine "${name}"`);
  }
}
