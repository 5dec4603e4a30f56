// The image's bytes as btrfs counts them: chain ids as Docker's layer store names them (the
// vectors are directory names a real dockerd wrote), and the qgroup figure parsed from the CLI.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chainId, referencedBytes } from '../src/containers/layer-bytes.js';

const L = [
  'sha256:7635b75e5a186cf1ac4db27d263f28cdfdb797443d7a3d329e4f0a02fc29a82f',
  'sha256:fa1dce94a0d042301c29bc3153bcd6385ef5399bf9e951f14657d21b8670d517',
  'sha256:91f2a5bdb291a5848f28d7347286cb97bd61e6bbb2cced64072b0cad60b43fe4',
  'sha256:15b15851d8e9247965f62faa20e11b8c7824ec76f0ad4489d15b2230d4318d80',
  'sha256:43f0c398944862e18ffaf2667878698982f09b75f109599509d5eb3479f107a4',
];

test('chainId: the bottom layer is its own chain; each layer above hashes "parent diff"', () => {
  assert.is(chainId(L.slice(0, 1)), L[0]);
  assert.is(chainId(L.slice(0, 2)), 'sha256:0cc129379b7741201d3d21089dd9fb74a2e2f4dfd757e45bdb0f5a450bc584cd');
  assert.is(chainId(L.slice(0, 3)), 'sha256:5dabe6926ff3c9f43f0838a50cbb98e0f9ae5873909a6469b435fcc55812c2e9');
  assert.is(chainId(L), 'sha256:cb5b5ffc82971da19ccc1a65c0ae402dbcf553ae0f9b54340ddf29dfcabc2655');
});

test('chainId: no layers, or a digest that is not one, is an error (never a path)', () => {
  assert.throws(() => chainId([]), /without layers/);
  assert.throws(() => chainId([L[0]!, '../../etc/passwd']), /not a layer digest/);
  assert.throws(() => chainId(['sha256:ABC']), /not a layer digest/);
});

test('referencedBytes: the subvolume row of `btrfs qgroup show --raw -rf`', () => {
  const out = [
    'Qgroupid    Referenced    Exclusive  Max referenced   Path ',
    '--------    ----------    ---------  --------------   ---- ',
    '0/265        682409984       163840            none   docker/btrfs/subvolumes/80314a06',
    '',
  ].join('\n');
  assert.is(referencedBytes(out), 682409984);
  assert.throws(() => referencedBytes('Qgroupid Referenced\n'), /no referenced byte count/);
  assert.throws(() => referencedBytes('0/265 6.5MiB 16KiB none x'), /no referenced byte count/);
});

test.run();
