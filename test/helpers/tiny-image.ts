// A few-MiB image made from the host's own dash, dd and cat (and the C library they need), for
// tests that need a shell in a container but not the base image: imported in a second, where
// copying the base image takes most of a minute.
import { execFileSync } from 'node:child_process';

// Directories listed too: parents tar would leave out are made unreadable to the remapped root.
const FILES = ['usr', 'usr/bin', 'lib', 'lib/x86_64-linux-gnu', 'lib64', 'usr/bin/dash', 'usr/bin/dd', 'usr/bin/cat', 'lib/x86_64-linux-gnu/libc.so.6', 'lib64/ld-linux-x86-64.so.2'];
export const TINY_SHELL = '/usr/bin/dash';

/** Imports the tiny image into the daemon on `socket` as `tag`, with `labels`. */
export function importTinyImage(socket: string, tag: string, labels: Record<string, string> = {}): void {
  const tar = execFileSync('tar', ['-C', '/', '-h', '--no-recursion', '-c', ...FILES], { maxBuffer: 64 * 1024 * 1024 });
  const changes = Object.entries(labels).flatMap(([k, v]) => ['-c', `LABEL ${k}=${v}`]);
  execFileSync('docker', ['-H', `unix://${socket}`, 'import', ...changes, '-', tag], { input: tar, stdio: ['pipe', 'ignore', 'pipe'] });
}
