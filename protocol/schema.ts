// Shared schema pieces and the one place a validation failure becomes a message
// with the field's path, e.g. "device_requirement.ram.capacity: must be ≥ 67108864".
import { z } from 'zod';

export const uint = () => z.number({ invalid_type_error: 'must be an integer' }).int('must be an integer').nonnegative('must be ≥ 0').max(Number.MAX_SAFE_INTEGER, 'must be < 2^53');
export const bytes = () => z.instanceof(Uint8Array, { message: 'must be binary' });

export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(body)'}: ${issue.message}`)
    .join('; ');
}

export type Parsed<T> = { ok: true; value: T } | { ok: false; message: string };

export function parseWith<S extends z.ZodTypeAny>(schema: S, value: unknown): Parsed<z.output<S>> {
  const result = schema.safeParse(value);
  return result.success ? { ok: true, value: result.data } : { ok: false, message: describeIssues(result.error) };
}
