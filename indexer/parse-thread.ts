// Worker thread entry: prepares the node's blocks off the main thread, which only writes SQLite.
import { parentPort, workerData } from 'node:worker_threads';
import { getCoin } from '../core/coins.ts';
import { transferList } from './block-prep.ts';
import { useNodeHashes } from './node-hashes.ts';
import { runParseJob, type ParseJob } from './parse-job.ts';

/** What the thread is started with. */
export interface ParseThreadData {
  coin: string;
  net: string;
}

const port = parentPort;
if (port === null) throw new Error('parse-thread.ts must run in a worker thread');
const data = workerData as ParseThreadData;
const coin = getCoin(data.coin, data.net);
useNodeHashes();

port.on('message', (job: ParseJob) => {
  const reply = runParseJob(job, coin);
  // The prepared block's buffers move to the main thread instead of being copied.
  port.postMessage(reply, 'prepared' in reply ? transferList(reply.prepared) : []);
});
