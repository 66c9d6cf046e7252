-- mempool_refs: Radiant refs pushed by mempool outputs (blockchain.ref.get at height 0).
-- WITHOUT ROWID added by hand after drizzle-kit generate, as for refs (core/schema.ts, closing note).
CREATE TABLE `mempool_refs` (
	`ref` blob NOT NULL,
	`txid` blob NOT NULL,
	PRIMARY KEY(`ref`, `txid`)
) WITHOUT ROWID;
