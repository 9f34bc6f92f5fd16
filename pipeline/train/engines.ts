import { ConfigError } from '../config/load.ts';
import type { Engine } from './engine.ts';
import { referenceEngine } from './reference-engine.ts';

/** The engine a run's config names, ready to open sessions; `workers` threads where it uses them. Close it when done. */
export async function engineByName(name: string, workers: number): Promise<Engine> {
  switch (name) {
    case 'reference':
      return referenceEngine;
    case 'fast':
      return (await import('../kernel/fast-engine.ts')).createFastEngine(workers);
    case 'tfjs':
      return (await import('./tfjs-engine.ts')).createTfjsEngine();
    default:
      throw new ConfigError(`unknown training engine "${name}"`);
  }
}
