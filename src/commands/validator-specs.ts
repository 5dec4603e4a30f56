// `validator specs URL`: asks a miner for its hardware and prints it as JSON.
import { parseWith, specsResponseSchema } from '../../protocol/index.js';
import { COMMON_USAGE, minerUrl, openDendrite, parseValidatorArgs } from './validator-common.js';
import { UsageError } from './usage.js';

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
    if (reply.code !== 200) throw new Error(`miner answered ${reply.code}: ${reply.message}`);
    const specs = parseWith(specsResponseSchema, reply.body);
    if (!specs.ok) throw new Error(`miner's Specs reply does not match the protocol: ${specs.message}`);
    process.stdout.write(`${JSON.stringify(specs.value.specs_output, null, 2)}\n`);
    return 0;
  } finally {
    await dendrite.close();
  }
}
