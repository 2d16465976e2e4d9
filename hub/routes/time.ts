// Timestamps are stored as epoch milliseconds and shown in the API as ISO-8601 strings.
export const iso = (ms: number) => new Date(ms).toISOString();
export const isoOrNull = (ms: number | null | undefined) => (ms == null ? null : new Date(ms).toISOString());
