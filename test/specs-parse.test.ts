// Pure translations of nvidia-smi and /proc output into Specs fields.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { cpuinfoField, parseMeminfo, parseNvidiaSmi } from '../src/specs/parse.js';

test('nvidia-smi: no output means no GPUs', () => {
  assert.equal(parseNvidiaSmi(''), { count: 0, capacity: 0, details: [] });
  assert.equal(parseNvidiaSmi('\n'), { count: 0, capacity: 0, details: [] });
});

test('nvidia-smi: one GPU', () => {
  assert.equal(parseNvidiaSmi('NVIDIA GeForce RTX 4090, 24564\n'), {
    count: 1, capacity: 24564, details: [{ name: 'NVIDIA GeForce RTX 4090', capacity: 24564 }],
  });
});

test('nvidia-smi: two GPUs, capacities summed in MiB, CRLF and padding tolerated', () => {
  const output = 'NVIDIA H100 80GB HBM3, 81559\r\n  NVIDIA A100-SXM4-40GB ,40960  \r\n';
  assert.equal(parseNvidiaSmi(output), {
    count: 2,
    capacity: 81559 + 40960,
    details: [{ name: 'NVIDIA H100 80GB HBM3', capacity: 81559 }, { name: 'NVIDIA A100-SXM4-40GB', capacity: 40960 }],
  });
});

test('nvidia-smi: a name with a comma splits at the last comma', () => {
  assert.equal(parseNvidiaSmi('Tesla T4, rev B, 15360').details, [{ name: 'Tesla T4, rev B', capacity: 15360 }]);
});

test('nvidia-smi: garbage and error text give no GPUs; unreadable lines are skipped', () => {
  const failures = [
    'NVIDIA-SMI has failed because it couldn\'t communicate with the NVIDIA driver.',
    'No devices were found',
    'name, memory.total [MiB]',
    'GPU 0, [N/A]',
    ', 1024',
    '\u0000\u0001garbage',
  ];
  for (const output of failures) assert.is(parseNvidiaSmi(output).count, 0, output);
  assert.equal(parseNvidiaSmi('garbage\nNVIDIA L4, 23034\nGPU 1, [N/A]').details, [{ name: 'NVIDIA L4', capacity: 23034 }]);
});

const MEMINFO = `MemTotal:        8148000 kB
MemFree:          512000 kB
MemAvailable:    6000000 kB
Buffers:          100000 kB
Cached:          5000000 kB
SwapCached:            0 kB
`;

test('/proc/meminfo: bytes, used = total − available', () => {
  assert.equal(parseMeminfo(MEMINFO), {
    total: 8148000 * 1024, available: 6000000 * 1024, used: (8148000 - 6000000) * 1024, free: 512000 * 1024,
  });
});

test('/proc/meminfo: without MemAvailable, free + cache estimates it; without MemTotal, null', () => {
  const old = MEMINFO.replace(/^MemAvailable:.*\n/m, '');
  assert.is(parseMeminfo(old)!.available, (512000 + 5000000 + 100000) * 1024);
  assert.is(parseMeminfo('garbage'), null);
  assert.is(parseMeminfo(''), null);
});

test('/proc/cpuinfo: the first value of a field', () => {
  const cpuinfo = 'processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\ncpu MHz\t\t: 2445.426\n\nprocessor\t: 1\nvendor_id\t: Other\n';
  assert.is(cpuinfoField(cpuinfo, 'vendor_id'), 'AuthenticAMD');
  assert.is(cpuinfoField(cpuinfo, 'model name'), 'AMD EPYC 7B13');
  assert.is(cpuinfoField(cpuinfo, 'cpu MHz'), '2445.426');
  assert.is(cpuinfoField(cpuinfo, 'flags'), undefined);
  assert.is(cpuinfoField('', 'vendor_id'), undefined);
});

test.run();
