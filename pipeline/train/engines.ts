import { ConfigError } from '../config/load.ts';
import type { Engine } from './engine.ts';
import { referenceEngine } from './reference-engine.ts';

const ENGINES: Record<string, Engine> = { reference: referenceEngine };

export function engineByName(name: string): Engine {
  const e = ENGINES[name];
  if (!e) throw new ConfigError(`unknown training engine "${name}"; the engines are ${Object.keys(ENGINES).join(', ')}`);
  return e;
}
