-- fee_estimates_by_mode: estimatesmartfee per estimate_mode; node_fees: the node's mempool fee
-- floors (core/schema.ts). WITHOUT ROWID added by hand after drizzle-kit generate (composite key;
-- see the note at the end of core/schema.ts).
CREATE TABLE `fee_estimates_by_mode` (
	`mode` text NOT NULL,
	`target_blocks` integer NOT NULL,
	`fee_rate` real NOT NULL,
	PRIMARY KEY(`mode`, `target_blocks`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE TABLE `node_fees` (
	`id` integer PRIMARY KEY NOT NULL,
	`incremental_fee` real,
	`mempool_min_fee` real
);
