/**
 * Option checks shared by the reader and the writer.
 *
 * @module
 */
import { InvalidArgumentError } from '@sockserve/core';

/** Throws InvalidArgumentError unless `value` is a number of milliseconds above 0, or null. */
export function validateTimeout(name: string, value: unknown): void {
  if (value !== null && !(typeof value === 'number' && value > 0)) {
    throw new InvalidArgumentError(`Expected \`${name}\` to be a number of milliseconds above 0 or null, got \`${String(value)}\``);
  }
}
