// Status codes of a reply (HTTP-like) and WebSocket close codes, as PROTOCOL.md assigns them.
export const Status = {
  OK: 200,
  BAD_REQUEST: 400,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  TIMEOUT: 408,
  UNPROCESSABLE: 422,
  TOO_MANY_REQUESTS: 429,
  INTERNAL: 500,
  UNAVAILABLE: 503,
} as const;
export type StatusCode = (typeof Status)[keyof typeof Status];

export const CloseCode = {
  NORMAL: 1000,
  GOING_AWAY: 1001,
  UNSUPPORTED_DATA: 1003, // a text frame whose id cannot be read
  INVALID_PAYLOAD: 1007, // bytes that do not decode and carry no readable id
  POLICY_VIOLATION: 1008, // idle too long, too many requests in flight, rate abuse
  MESSAGE_TOO_BIG: 1009, // a frame over the axon's size cap
  TRY_AGAIN_LATER: 1013, // too many connections
} as const;

export const PROTOCOL_VERSION = 1;
export const SYNAPSE_NAMES = ['Specs', 'Allocate', 'Challenge'] as const;
export type SynapseName = (typeof SYNAPSE_NAMES)[number];
export function isSynapseName(name: string): name is SynapseName {
  return (SYNAPSE_NAMES as readonly string[]).includes(name);
}
