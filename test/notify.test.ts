// End to end: push notifications through the simulated node, the indexer, the notifier and the
// Worker (wrangler dev: hubs and hibernating sessions). Expected statuses come from an independent
// reading of the chain (test/support/reference-chain.ts); headers from the node's own blocks.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  freshScripts,
  mineToScripts,
  walletScriptHash,
  type WalletSocket,
} from '../tools/bench-notify.ts';
import type { Stack } from '../tools/stack.ts';
import {
  HEADERS_SUBSCRIBE as HEADERS,
  NOTIFY_COIN,
  NOTIFY_TIMEOUT_MS,
  QUIET_MS,
  SCRIPTHASH_SUBSCRIBE as SCRIPTHASH,
  startNotifyStack,
  type NotifyStack,
} from './support/notify-stack.ts';
import { readReferenceChain, referenceStatus } from './support/reference-chain.ts';

const COIN = NOTIFY_COIN;
// workerd evicts an idle Durable Object whose WebSockets hibernate after about 10 s.
const HIBERNATE_MS = 13_000;

const quiet = (): Promise<void> => new Promise((done) => setTimeout(done, QUIET_MS));
const calls = (socket: WalletSocket): unknown[][] => {
  return socket.notifications.map((item) => [item.method, item.params]);
};

describe('push notifications', () => {
  let run: NotifyStack;
  let stack: Stack;
  let logs: string[] = [];

  // The status the protocol defines for a script hash, from an independent reading of every
  // block the node holds now.
  const expectedStatus = (scriptHash: string): string | null => {
    const node = stack.simNode;
    const blocks = Array.from({ length: node.tipHeight() + 1 }, (_, h) => node.blockHex(h));
    const reference = readReferenceChain(blocks, 'sha512_256d');
    return referenceStatus(reference.history.get(scriptHash) ?? []);
  };

  // The newest seq of the change feed, read from the index file itself.
  const lastChangeSeq = (): number => {
    const db = new Database(join(stack.dbDirectory, 'index.db'), { readonly: true });
    try {
      const row = db.prepare('SELECT last_change_seq AS seq FROM chain_state WHERE id = 0').get();
      return (row as { seq: number }).seq;
    } finally {
      db.close();
    }
  };

  const postNotice = (notice: Record<string, unknown>): Promise<Response> => {
    return fetch(`${stack.httpUrl}/internal/notify`, {
      method: 'POST',
      body: JSON.stringify([notice]),
      headers: { Authorization: `Bearer ${stack.notifySecret ?? ''}` },
    });
  };

  // Log lines come through the processes' own pipes, apart from the frames a wallet gets: wait
  // (bounded) for the first matching line after `from` instead of reading the lines once.
  const linesAfter = async (from: number, match: (line: string) => boolean): Promise<string[]> => {
    const deadline = Date.now() + NOTIFY_TIMEOUT_MS;
    while (!logs.slice(from).some(match) && Date.now() < deadline) {
      await new Promise((done) => setTimeout(done, 50));
    }
    return logs.slice(from).filter(match);
  };

  const wallet = (): Promise<WalletSocket> => run.wallet('notify-e2e');

  beforeAll(async () => {
    run = await startNotifyStack();
    ({ stack, logs } = run);
  }, 180_000);

  afterAll(async () => {
    await run?.stop();
  });

  it('notifies a subscriber once, a headers subscriber with the new tip, nobody else', async () => {
    const [paid, unrelated, elsewhere] = freshScripts(3);
    if (paid === undefined || unrelated === undefined || elsewhere === undefined) {
      throw new Error('no scripts');
    }
    const paidHash = walletScriptHash(paid);
    const subscriber = await wallet();
    const bystander = await wallet();
    const watcher = await wallet();
    expect(await subscriber.call(SCRIPTHASH, [paidHash])).toBeNull();
    expect(await bystander.call(SCRIPTHASH, [walletScriptHash(unrelated)])).toBeNull();
    const tipBefore = (await watcher.call(HEADERS, [])) as { height: number };

    const hashes = stack.simNode.mine({ payToScript: paid });
    const height = stack.simNode.tipHeight();
    expect(height).toBe(tipBefore.height + 1);
    await subscriber.waitForCount(1, NOTIFY_TIMEOUT_MS);
    await watcher.waitForCount(1, NOTIFY_TIMEOUT_MS);
    await quiet();
    const status = expectedStatus(paidHash);
    expect(status).not.toBeNull();
    expect(calls(subscriber)).toEqual([[SCRIPTHASH, [paidHash, status]]]);
    expect(bystander.notifications).toEqual([]);
    const header = stack.simNode.blockHex(height).slice(0, 160);
    expect(calls(watcher)).toEqual([[HEADERS, [{ hex: header, height }]]]);
    expect(hashes).toHaveLength(1);

    // A block that does not touch the subscribed script: a new tip, no status notification.
    stack.simNode.mine({ payToScript: elsewhere });
    await watcher.waitForCount(2, NOTIFY_TIMEOUT_MS);
    await quiet();
    expect(subscriber.notifications).toHaveLength(1);
    expect(bystander.notifications).toEqual([]);
    const nextHeader = stack.simNode.blockHex(height + 1).slice(0, 160);
    expect(watcher.notifications[1]?.params).toEqual([{ hex: nextHeader, height: height + 1 }]);

    // Subscribing again answers the current status and sends nothing more: it did not change.
    expect(await subscriber.call(SCRIPTHASH, [paidHash])).toBe(status);
    await quiet();
    expect(subscriber.notifications).toHaveLength(1);
    for (const socket of [subscriber, bystander, watcher]) socket.close();
  }, 90_000);

  it('tells a session that watches both the tip and a paid script of each new tip once', async () => {
    const [paid] = freshScripts(1);
    if (paid === undefined) throw new Error('no scripts');
    const paidHash = walletScriptHash(paid);
    const both = await wallet();
    await both.call(HEADERS, []);
    expect(await both.call(SCRIPTHASH, [paidHash])).toBeNull();
    for (let block = 1; block <= 3; block++) {
      stack.simNode.mine({ payToScript: paid });
      await both.waitForCount(2 * block, NOTIFY_TIMEOUT_MS);
      await quiet();
      // The headers hub and the script hash's hub both wake the session for the same block.
      const headerNotices = both.notifications.filter((item) => item.method === HEADERS);
      const height = stack.simNode.tipHeight();
      expect(headerNotices).toHaveLength(block);
      expect(headerNotices.at(-1)?.params).toEqual([
        { hex: stack.simNode.blockHex(height).slice(0, 160), height },
      ]);
      expect(both.notifications.filter((item) => item.method === SCRIPTHASH)).toHaveLength(block);
    }
    both.close();
  }, 90_000);

  it('stops notifying after unsubscribe and after the session closes', async () => {
    const [first, second] = freshScripts(2);
    if (first === undefined || second === undefined) throw new Error('no scripts');
    const [firstHash, secondHash] = [walletScriptHash(first), walletScriptHash(second)];
    const leaving = await wallet();
    const closing = await wallet();
    expect(await leaving.call(SCRIPTHASH, [firstHash])).toBeNull();
    expect(await leaving.call('blockchain.scripthash.unsubscribe', [firstHash])).toBe(true);
    expect(await closing.call(SCRIPTHASH, [secondHash])).toBeNull();
    closing.close();
    const control = await wallet();
    expect(await control.call(SCRIPTHASH, [secondHash])).toBeNull();
    mineToScripts(stack.simNode, COIN, [first, second]);
    await control.waitForCount(1, NOTIFY_TIMEOUT_MS);
    await quiet();
    expect(leaving.notifications).toEqual([]);
    expect(calls(control)).toEqual([[SCRIPTHASH, [secondHash, expectedStatus(secondHash)]]]);
    // The closed session told its hub on close: no wake went looking for it afterwards.
    expect(logs.filter((line) => line.includes('"notify_gone"'))).toEqual([]);
    leaving.close();
    control.close();
  }, 60_000);

  it('keeps subscriptions through hibernation: the woken session still notifies', async () => {
    run.closeWallets();
    const [script] = freshScripts(1);
    if (script === undefined) throw new Error('no script');
    const hash = walletScriptHash(script);
    const sleeper = await wallet();
    expect(await sleeper.call(SCRIPTHASH, [hash])).toBeNull();
    await new Promise((done) => setTimeout(done, HIBERNATE_MS));
    const linesBefore = logs.length;
    mineToScripts(stack.simNode, COIN, [script, script]);
    await sleeper.waitForCount(1, NOTIFY_TIMEOUT_MS);
    await quiet();
    expect(sleeper.notifications.map((n) => n.params)).toEqual([[hash, expectedStatus(hash)]]);
    // The Session object that sent it was built anew by the wake: it had been evicted.
    const restoredWake = (line: string): boolean =>
      ['"notify_wake"', '"restored":true', '"sent":1'].every((part) => line.includes(part));
    expect(await linesAfter(linesBefore, restoredWake)).not.toEqual([]);
  }, 60_000);

  it('on a reorg announces only the new tip, and the statuses of the new branch', async () => {
    const [orphaned, replacement] = freshScripts(2);
    if (orphaned === undefined || replacement === undefined) throw new Error('no scripts');
    const hash = walletScriptHash(orphaned);
    const watcher = await wallet();
    const holder = await wallet();
    await watcher.call(HEADERS, []);
    expect(await holder.call(SCRIPTHASH, [hash])).toBeNull();
    stack.simNode.mine({ payToScript: orphaned });
    const paidStatus = expectedStatus(hash);
    await holder.waitForCount(1, NOTIFY_TIMEOUT_MS);
    await watcher.waitForCount(1, NOTIFY_TIMEOUT_MS);

    // Two blocks replace the one that paid `orphaned`: its history is gone again.
    const forkHeight = stack.simNode.tipHeight() - 1;
    stack.simNode.reorgMine(forkHeight, 2, { payToScript: replacement });
    await holder.waitForCount(2, NOTIFY_TIMEOUT_MS);
    await watcher.waitForCount(2, NOTIFY_TIMEOUT_MS);
    await quiet();
    expect(expectedStatus(hash)).toBeNull();
    expect(calls(holder)).toEqual([
      [SCRIPTHASH, [hash, paidStatus]],
      [SCRIPTHASH, [hash, null]],
    ]);
    const newHeader = stack.simNode.blockHex(forkHeight + 2).slice(0, 160);
    expect(watcher.notifications).toHaveLength(2);
    expect(watcher.notifications[1]?.params).toEqual([{ hex: newHeader, height: forkHeight + 2 }]);
    holder.close();
    watcher.close();
  }, 60_000);

  it('guards POST /internal/notify: secret, body size, body shape', async () => {
    const url = `${stack.httpUrl}/internal/notify`;
    const secret = stack.notifySecret ?? '';
    const post = (body: string, auth?: string): Promise<Response> => {
      const headers: Record<string, string> = auth === undefined ? {} : { Authorization: auth };
      return fetch(url, { method: 'POST', body, headers });
    };
    expect((await post('[]')).status).toBe(401);
    expect((await post('[]', `Bearer ${secret}x`)).status).toBe(401);
    expect((await post('[]', secret)).status).toBe(401);
    const bad = await post('[{"seq": 0}]', `Bearer ${secret}`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: string }).error).toContain('hashxes');
    const huge = await post(`[${'0'.repeat(5 * 1024 * 1024)}]`, `Bearer ${secret}`);
    expect(huge.status).toBe(413);
    const position = await fetch(url, { headers: { Authorization: `Bearer ${secret}` } });
    const answer = (await position.json()) as { seq: number };
    expect(answer.seq).toBe(stack.notifier?.ackedSeq());
  }, 30_000);

  it('catches up from the change feed when notices were missed', async () => {
    // The notifier stops: the next block reaches the index but not the Worker.
    await stack.notifier?.close();
    const [script] = freshScripts(1);
    if (script === undefined) throw new Error('no script');
    const hash = walletScriptHash(script);
    const holder = await wallet();
    expect(await holder.call(SCRIPTHASH, [hash])).toBeNull();
    mineToScripts(stack.simNode, COIN, [script]);
    await stack.waitForIndexHeight(stack.simNode.tipHeight());
    await quiet();
    expect(holder.notifications).toEqual([]);
    // A later notice with no script hashes: the hubs see the seqs they missed and read them.
    const seq = lastChangeSeq() + 1;
    const [height, tipHash] = [stack.simNode.tipHeight(), stack.simNode.tipHash()];
    const linesBefore = logs.length;
    const response = await postNotice({ seq, height, tip_hash: tipHash, hashxes: [] });
    expect(response.status).toBe(200);
    await holder.waitForCount(1, NOTIFY_TIMEOUT_MS);
    await quiet();
    expect(calls(holder)).toEqual([[SCRIPTHASH, [hash, expectedStatus(hash)]]]);
    const catchUps = await linesAfter(linesBefore, (line) => line.includes('"hub_catch_up"'));
    expect(catchUps.length).toBeGreaterThan(0);
    expect(catchUps.every((line) => line.includes('"complete":true'))).toBe(true);
    holder.close();
  }, 60_000);

  it('sends nothing when a wake finds the status unchanged', async () => {
    const [script] = freshScripts(1);
    if (script === undefined) throw new Error('no script');
    const hash = walletScriptHash(script);
    mineToScripts(stack.simNode, COIN, [script]);
    const holder = await wallet();
    // Wait until the index holds the block, so the subscribe reply already has the new status.
    await stack.waitForIndexHeight(stack.simNode.tipHeight());
    const status = expectedStatus(hash);
    expect(await holder.call(SCRIPTHASH, [hash])).toBe(status);
    // A notice naming the script hash again (as a resent or catch-up notice would): the session
    // re-reads the status, finds it unchanged, and stays silent.
    const seq = lastChangeSeq() + 1_000;
    const [height, tipHash] = [stack.simNode.tipHeight(), stack.simNode.tipHash()];
    const linesBefore = logs.length;
    const response = await postNotice({ seq, height, tip_hash: tipHash, hashxes: [hash] });
    expect(response.status).toBe(200);
    await quiet();
    expect(holder.notifications).toEqual([]);
    const wakeOfSeq = (line: string): boolean =>
      line.includes('"notify_wake"') && line.includes(`"seq":${seq}`);
    const [wake] = await linesAfter(linesBefore, wakeOfSeq);
    expect(wake).toContain('"checked":1');
    expect(wake).toContain('"sent":0');
  }, 60_000);

  it('announces new tips after the feed starts over (an index rebuilt or restored)', async () => {
    const watcher = await wallet();
    await watcher.call(HEADERS, []);
    const header = (height: number): string => stack.simNode.blockHex(height).slice(0, 160);
    const noticeOfTip = (seq: number, reset: boolean): Record<string, unknown> => {
      const height = stack.simNode.tipHeight();
      const [tipHash, headerHex] = [stack.simNode.tipHash(), header(height)];
      return { seq, height, tip_hash: tipHash, header_hex: headerHex, hashxes: [], reset };
    };
    // A tip announced under a high seq of the old feed...
    stack.simNode.mine();
    await stack.waitForIndexHeight(stack.simNode.tipHeight());
    expect((await postNotice(noticeOfTip(lastChangeSeq() + 5_000, false))).status).toBe(200);
    await watcher.waitForCount(1, NOTIFY_TIMEOUT_MS);
    // ...then the index starts over at seq 1 (the notifier marks that notice `reset`).
    stack.simNode.mine();
    const height = stack.simNode.tipHeight();
    await stack.waitForIndexHeight(height);
    expect((await postNotice(noticeOfTip(1, true))).status).toBe(200);
    await watcher.waitForCount(2, NOTIFY_TIMEOUT_MS);
    expect(watcher.notifications[1]?.params).toEqual([{ hex: header(height), height }]);
    // A reset whose tip the sessions already have (another index at the same height): nothing
    // to announce, but the next tip of the new feed still goes out.
    stack.simNode.mine();
    await stack.waitForIndexHeight(stack.simNode.tipHeight());
    expect((await postNotice(noticeOfTip(9_000, false))).status).toBe(200);
    await watcher.waitForCount(3, NOTIFY_TIMEOUT_MS);
    expect((await postNotice(noticeOfTip(1, true))).status).toBe(200);
    stack.simNode.mine();
    const next = stack.simNode.tipHeight();
    await stack.waitForIndexHeight(next);
    expect((await postNotice(noticeOfTip(2, false))).status).toBe(200);
    await watcher.waitForCount(4, NOTIFY_TIMEOUT_MS);
    expect(watcher.notifications[3]?.params).toEqual([{ hex: header(next), height: next }]);
    watcher.close();
  }, 60_000);
});
