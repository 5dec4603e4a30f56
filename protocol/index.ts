// The wire contract shared by the miner and validator sides. Pure: no I/O.
export * from './status.js';
export * from './codec.js';
export * from './ss58.js';
export * from './hotkey.js';
export { ed25519, ed25519Named, nodeEd25519, sodiumEd25519, signingKey, useEd25519, type Ed25519, type SigningKey } from './ed25519.js';
export * from './signing.js';
export * from './schema.js';
export * from './envelope.js';
export * from './keys.js';
export * from './synapses/specs.js';
export * from './synapses/allocate.js';
export * from './synapses/challenge.js';
export * from './synapses/index.js';
export * from './credentials.js';
export * from './host-keys.js';
