// `validator specs URL`: asks a miner for its hardware; prints it in units people read, or
// the miner's JSON with --json.
import { parseWith, specsResponseSchema, type SpecsOutput } from '../../protocol/index.js';
import { humanBytes } from '../units.js';
import { COMMON_USAGE, minerUrl, openDendrite, parseValidatorArgs, printJson, replyError } from './validator-common.js';
import { UsageError } from './usage.js';

/** The Specs reply as lines of text: sizes in GiB, never raw bytes. */
export function formatSpecs(s: SpecsOutput): string {
  const gpus = s.gpu.count === 0 ? 'none' : `${s.gpu.count} (${s.gpu.details.map((g) => `${g.name} ${humanBytes(g.capacity * 1024 ** 2)}`).join(', ')})`;
  return [
    `cpu     ${s.cpu.count} cores, ${s.cpu.model} (${s.cpu.vendor}, ${Math.round(s.cpu.frequency)} MHz)`,
    `memory  ${humanBytes(s.ram.total)} total, ${humanBytes(s.ram.available)} available`,
    `disk    ${humanBytes(s.hard_disk.total)} total, ${humanBytes(s.hard_disk.free)} free`,
    `gpu     ${gpus}`,
    `docker  ${s.docker.available ? `available, version ${s.docker.version}` : 'not available'}`,
  ].join('\n') + '\n';
}

export async function runSpecs(argv: string[]): Promise<number> {
  const { values, positionals } = parseValidatorArgs(argv, {});
  if (values.help) {
    process.stdout.write(`Usage: compute-miner validator specs URL [options]\n${COMMON_USAGE}\n`);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError('validator specs takes exactly one miner URL');
  const dendrite = openDendrite(minerUrl(positionals[0]), values);
  try {
    const reply = await dendrite.call('Specs', {});
    if (reply.code !== 200) throw replyError(reply, dendrite.dendriteHotkey);
    const specs = parseWith(specsResponseSchema, reply.body);
    if (!specs.ok) throw new Error(`miner's Specs reply does not match the protocol: ${specs.message}`);
    if (values.json) printJson(specs.value.specs_output);
    else process.stdout.write(formatSpecs(specs.value.specs_output));
    return 0;
  } finally {
    await dendrite.close();
  }
}
