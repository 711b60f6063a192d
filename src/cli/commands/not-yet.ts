import { ConfigError } from '../../core/errors.js';

export function notYetAvailable(command: string): never {
  throw new ConfigError(`'medcap ${command}' is not yet available in this version`);
}
