#!/usr/bin/env node
/**
 * `npm stop`: stops what `npm start` started, found through its pid file. The
 * start process shuts down the server and Orthanc itself on SIGTERM; if it is
 * gone, a leftover Orthanc of this state directory is stopped directly.
 * Only processes whose command line matches are signalled.
 */
import * as fs from 'node:fs';
import { cmdline, isAlive, PID_FILE, readPidFile, STATE_DIR } from './start.mjs';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

async function waitGone(pid, ms) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await sleep(100);
  }
  return !isAlive(pid);
}

const run = readPidFile();
if (!run) {
  console.log('not running (no pid file)');
  process.exit(0);
}
let stopped = false;
if (isAlive(run.pid) && cmdline(run.pid).includes('start.mjs')) {
  process.kill(run.pid, 'SIGTERM');
  stopped = await waitGone(run.pid, 20000);
  if (!stopped) console.error(`pid ${run.pid} did not stop within 20 s`);
}
if (run.orthancPid && isAlive(run.orthancPid) && cmdline(run.orthancPid).includes(STATE_DIR)) {
  process.kill(run.orthancPid, 'SIGTERM');
  if (!(await waitGone(run.orthancPid, 10000))) process.kill(run.orthancPid, 'SIGKILL');
}
fs.rmSync(PID_FILE, { force: true });
console.log(stopped ? `stopped (pid ${run.pid})` : 'stopped');
