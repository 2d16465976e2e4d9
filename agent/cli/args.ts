// Parsing what an operator types: numbers and JSON files, refused with a message that names the flag or the file.
import { readFileSync } from 'node:fs';
import { InvalidArgumentError } from 'commander';
import { TandemError } from '../../shared/errors';

/** A commander option parser for whole numbers (`--max-uses 5`); "abc", "1.5" or "" is refused before any request. */
export function wholeNumber(value: string): number {
  if (!/^-?\d+$/.test(value.trim())) throw new InvalidArgumentError(`"${value}" is not a whole number.`);
  return Number(value);
}

/** A JSON document from the operator: an unreadable file or invalid JSON is an error naming it. */
export function parseJsonArg(text: string, where: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new TandemError('invalid_json', `${where} is not valid JSON: ${(err as Error).message}.`);
  }
  if (!value || typeof value !== 'object' || Array.isArray(value)) throw new TandemError('invalid_json', `${where} must hold a JSON object ({...}).`);
  return value as Record<string, unknown>;
}

export function readJsonFile(file: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new TandemError('file_unreadable', `Cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`);
  }
  return parseJsonArg(text, file);
}
