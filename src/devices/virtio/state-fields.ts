/**
 * Field checkers for validating saved device state (untrusted JSON). Each throws the
 * caller's error type with a message naming the state and the field, e.g.
 * "virtio-blk state field 'inFlight[2]' must be an integer in 0..65535, got -1".
 */

export type StateErrorClass = new (message: string) => Error;

export class StateReader {
  constructor(
    private readonly what: string,
    private readonly ErrorClass: StateErrorClass,
  ) {}

  fail(field: string, expected: string, got: unknown): never {
    throw new this.ErrorClass(`${this.what} field '${field}' must be ${expected}, got ${JSON.stringify(got) ?? String(got)}`);
  }

  object(raw: unknown, field?: string): Record<string, unknown> {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      if (field === undefined) throw new this.ErrorClass(`${this.what} must be an object`);
      this.fail(field, 'an object', raw);
    }
    return raw as Record<string, unknown>;
  }

  version(o: Record<string, unknown>, expected: number): void {
    if (o.version !== expected) {
      throw new this.ErrorClass(`${this.what} version ${JSON.stringify(o.version)} is not supported (expected ${expected})`);
    }
  }

  int(value: unknown, field: string, min: number, max: number): number {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      this.fail(field, `an integer in ${min}..${max}`, value);
    }
    return value;
  }

  bool(value: unknown, field: string): boolean {
    if (typeof value !== 'boolean') this.fail(field, 'a boolean', value);
    return value;
  }

  string(value: unknown, field: string): string {
    if (typeof value !== 'string') this.fail(field, 'a string', value);
    return value;
  }

  /** A 64-bit unsigned value saved as a decimal string (JSON has no bigint). */
  u64(value: unknown, field: string): bigint {
    if (typeof value !== 'string' || !/^(0|[1-9][0-9]{0,19})$/.test(value) || BigInt(value) >= 1n << 64n) {
      this.fail(field, 'a decimal string of an unsigned 64-bit value', value);
    }
    return BigInt(value);
  }

  base64(value: unknown, field: string): Uint8Array {
    if (typeof value !== 'string' || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) {
      this.fail(field, 'a base64 string', value);
    }
    const b = Buffer.from(value, 'base64');
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }

  array(value: unknown, field: string, maxLength: number): unknown[] {
    if (!Array.isArray(value) || value.length > maxLength) this.fail(field, `an array of at most ${maxLength} entries`, value);
    return value;
  }
}
