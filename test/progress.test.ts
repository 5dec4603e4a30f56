// Long work is announced: a log line at its start and at its end (with the seconds it took),
// and on a terminal a line counting the seconds, drawn only for work longer than showAfterMs
// and cleared at the end; without a terminal nothing but the log.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Writable } from 'node:stream';
import { pino } from 'pino';
import { createProgress } from '../src/progress.js';
import { TerminalLine } from '../src/terminal-line.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info', base: undefined }, new Writable({ write(chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done(); } }));
  return { log, lines };
}

function fakeTerminal() {
  let text = '';
  const stream = new Writable({ write(chunk, _enc, done) { text += String(chunk); done(); } }) as unknown as NodeJS.WriteStream;
  (stream as { columns?: number }).columns = 80;
  return { stream, text: () => text };
}

test('start and end are logged once each, the end with its seconds and outcome', async () => {
  const { log, lines } = capture();
  const progress = createProgress({ log, terminal: null });
  const task = progress.start('challenge', { difficulty: 9 });
  await new Promise((r) => setTimeout(r, 20));
  task.end('found', { solver: 'built-in' });
  task.end('found again');
  await new Promise((r) => setImmediate(r));
  assert.equal(lines.map((l) => l.msg), ['challenge: started', 'challenge: found']);
  assert.is(lines[1]!.difficulty, 9);
  assert.is(lines[1]!.solver, 'built-in');
  assert.ok((lines[1]!.seconds as number) >= 0.015);
});

test('a terminal sees the seconds counted for long work and the line cleared at the end; short work draws nothing', async () => {
  const { log } = capture();
  const term = fakeTerminal();
  const progress = createProgress({ log, terminal: term.stream, showAfterMs: 30, tickMs: 10 });
  const quick = progress.start('quick');
  quick.end('done');
  assert.is(term.text(), '', 'nothing drawn for work shorter than showAfterMs');
  const slow = progress.start('base image build');
  slow.note('step 3/7');
  await new Promise((r) => setTimeout(r, 120));
  assert.match(term.text(), /\r\x1b\[2K… base image build \d+ s step 3\/7/);
  slow.end('ready');
  assert.ok(term.text().endsWith('\r\x1b[2K'), 'the line is cleared');
  const drawn = term.text().length;
  await new Promise((r) => setTimeout(r, 50));
  assert.is(term.text().length, drawn, 'no drawing after the end');
});

test('a log line written while the progress line shows goes above it, and the line is drawn again below', () => {
  const term = fakeTerminal();
  const line = new TerminalLine(term.stream);
  line.writeAbove('first\n');
  line.show('… challenge 3 s');
  line.writeAbove('[12:00:00] INFO: challenge: found\n');
  line.clear();
  assert.is(term.text(), 'first\n\r\x1b[2K… challenge 3 s\r\x1b[2K[12:00:00] INFO: challenge: found\n… challenge 3 s\r\x1b[2K');
});

test.run();
