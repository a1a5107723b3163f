/**
 * A slice of a run log by bytes, as `GET /heartbeat-runs/:runId/log` serves it: never ends inside
 * a UTF-8 character (the next slice starts with it), so paging never shows `\ufffd`, and always
 * moves forward (a limit shorter than a character still returns that character).
 */

export interface RunLogSlice {
  content: string;
  /** Where the next slice starts; null at the end of the log. */
  nextOffset: number | null;
}

/** Up to this many bytes past `limitBytes` finish a character the limit alone would cut. */
export const UTF8_CARRY_BYTES = 3;

/**
 * The slice at `offset` of a log of `size` bytes. `window` holds the log's bytes from `offset`:
 * at least `min(limitBytes + UTF8_CARRY_BYTES, size - offset)` of them.
 */
export function runLogSlice(window: Buffer, offset: number, limitBytes: number, size: number): RunLogSlice {
  const length = Math.max(0, Math.min(limitBytes, size - offset));
  const whole = offset + length < size ? completeUtf8Length(window.subarray(0, length)) || utf8CharLength(window[0]) : length;
  const end = offset + whole;
  return { content: window.toString('utf8', 0, whole), nextOffset: end < size ? end : null };
}

/** How many bytes of the log from `offset` a slice may need (the window's size). */
export function runLogWindowLength(offset: number, limitBytes: number, size: number): number {
  return Math.max(0, Math.min(limitBytes + UTF8_CARRY_BYTES, size - offset));
}

/** Bytes of the UTF-8 character that starts with `first` (1 for a stray continuation byte). */
function utf8CharLength(first: number): number {
  return first >= 0xf0 ? 4 : first >= 0xe0 ? 3 : first >= 0xc0 ? 2 : 1;
}

/**
 * How many leading bytes of `bytes` hold whole UTF-8 characters: a trailing character cut short
 * is left for the next slice (0 when `bytes` is shorter than its first character).
 */
export function completeUtf8Length(bytes: Buffer): number {
  if (bytes.length === 0) return 0;
  let lead = bytes.length - 1;
  // Step back over continuation bytes (10xxxxxx) to the byte that starts the last character.
  while (lead > 0 && bytes.length - lead < 4 && (bytes[lead] & 0xc0) === 0x80) lead--;
  return bytes.length - lead >= utf8CharLength(bytes[lead]) ? bytes.length : lead;
}
