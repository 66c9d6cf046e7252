-- Custom SQL migration file, put your code below! --
-- Rebuilds the tables keyed by a composite key or a 32-byte hash as WITHOUT ROWID, which
-- drizzle-kit cannot express (core/schema.ts, closing comment). The tables are still empty here.
-- Columns and indexes are exactly those of 0000_index_schema.sql.
DROP TABLE `history`;
--> statement-breakpoint
CREATE TABLE `history` (
	`hashx` blob NOT NULL,
	`tx_num` integer NOT NULL,
	PRIMARY KEY(`hashx`, `tx_num`)
) WITHOUT ROWID;
--> statement-breakpoint
DROP TABLE `utxos`;
--> statement-breakpoint
CREATE TABLE `utxos` (
	`tx_num` integer NOT NULL,
	`vout` integer NOT NULL,
	`hashx` blob NOT NULL,
	`value` integer NOT NULL,
	`refs` blob,
	PRIMARY KEY(`tx_num`, `vout`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `utxos_by_hashx` ON `utxos` (`hashx`);
--> statement-breakpoint
DROP TABLE `refs`;
--> statement-breakpoint
CREATE TABLE `refs` (
	`ref` blob NOT NULL,
	`tx_num` integer NOT NULL,
	PRIMARY KEY(`ref`, `tx_num`)
) WITHOUT ROWID;
--> statement-breakpoint
DROP TABLE `status`;
--> statement-breakpoint
CREATE TABLE `status` (
	`hashx` blob PRIMARY KEY NOT NULL,
	`status` blob,
	`confirmed_state` blob,
	`confirmed_count` integer NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
DROP TABLE `mempool_txs`;
--> statement-breakpoint
CREATE TABLE `mempool_txs` (
	`txid` blob PRIMARY KEY NOT NULL,
	`raw` blob NOT NULL,
	`fee` integer NOT NULL,
	`height` integer NOT NULL,
	`size` integer NOT NULL,
	`seen_at` integer NOT NULL
) WITHOUT ROWID;
--> statement-breakpoint
DROP TABLE `mempool_history`;
--> statement-breakpoint
CREATE TABLE `mempool_history` (
	`hashx` blob NOT NULL,
	`txid` blob NOT NULL,
	PRIMARY KEY(`hashx`, `txid`)
) WITHOUT ROWID;
--> statement-breakpoint
DROP TABLE `mempool_outputs`;
--> statement-breakpoint
CREATE TABLE `mempool_outputs` (
	`txid` blob NOT NULL,
	`vout` integer NOT NULL,
	`hashx` blob NOT NULL,
	`value` integer NOT NULL,
	`refs` blob,
	PRIMARY KEY(`txid`, `vout`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `mempool_outputs_by_hashx` ON `mempool_outputs` (`hashx`);
--> statement-breakpoint
DROP TABLE `mempool_spends`;
--> statement-breakpoint
CREATE TABLE `mempool_spends` (
	`prev_txid` blob NOT NULL,
	`prev_vout` integer NOT NULL,
	`txid` blob NOT NULL,
	`hashx` blob NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`prev_txid`, `prev_vout`)
) WITHOUT ROWID;
--> statement-breakpoint
CREATE INDEX `mempool_spends_by_hashx` ON `mempool_spends` (`hashx`);
