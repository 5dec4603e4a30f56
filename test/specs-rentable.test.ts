// Specs tell what can be rented: disk from the storage pool rentals come from, memory as what is
// not committed to rentals, on one host as on a fleet.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { SpecsOutput } from '../protocol/index.js';
import { rentableSpecs } from '../src/fleet/specs-source.js';
import { hostInventory } from '../src/rentals/room.js';
import type { Rental } from '../src/rentals/record.js';

const GiB = 1024 ** 3;
const machine: SpecsOutput = {
  cpu: { count: 2, frequency: 3000, vendor: 'v', model: 'm' },
  gpu: { count: 0, capacity: 0, details: [] },
  hard_disk: { total: 252 * GiB, free: 74 * GiB, used: 178 * GiB },
  ram: { total: 24 * GiB, available: 23 * GiB, used: GiB, free: 23 * GiB },
  docker: { available: true, version: '20.10' },
};
const facts = { cpuCount: 2, memoryBytes: 24 * GiB, diskBytes: 16 * GiB, diskFreeBytes: 15 * GiB, gpuCount: 0, storage: { enforced: true } };
const rental = (id: string, memoryBytes: number, diskBytes: number): Rental => ({
  version: 2, id, holderKey: 'eA==', role: 'rental', phase: 'live', host: 'local',
  grant: { cpuset: '0', gpus: [], sshPort: 4444, renterPorts: {}, memoryBytes, diskBytes }, createdAt: 0, deadline: 1, hostKeys: [], keys: {},
});

test('disk is the pool\'s, memory what is not committed; the rest of the hardware is the machine\'s', () => {
  const inventory = hostInventory('local', true, facts, [rental('aaaaaaaa', 4 * GiB, 10 * GiB)], GiB);
  const specs = rentableSpecs(machine, { name: 'local', inventory, facts });
  assert.equal(specs.hard_disk, { total: 16 * GiB, free: 6 * GiB, used: 10 * GiB });
  assert.is(specs.ram.available, 19 * GiB);
  assert.is(specs.ram.total, 24 * GiB);
  assert.equal(specs.cpu, machine.cpu);
});

test('free disk is bounded by the bytes really free on the pool', () => {
  const inventory = hostInventory('local', true, { ...facts, diskFreeBytes: 2 * GiB }, [], GiB);
  assert.is(rentableSpecs(machine, { name: 'local', inventory, facts: { ...facts, diskFreeBytes: 2 * GiB } }).hard_disk.free, 2 * GiB);
});

test('an engine that cannot say its storage keeps the hardware\'s disk figures', () => {
  const remote = { ...facts, diskBytes: null, diskFreeBytes: null };
  const inventory = hostInventory('b', true, remote, [], GiB);
  assert.equal(rentableSpecs(machine, { name: 'b', inventory, facts: remote }).hard_disk, machine.hard_disk);
});

test.run();
