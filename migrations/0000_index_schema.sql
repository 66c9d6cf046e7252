CREATE TABLE `chain_state` (
	`id` integer PRIMARY KEY NOT NULL,
	`coin` text NOT NULL,
	`net` text NOT NULL,
	`height` integer NOT NULL,
	`tip_hash` blob,
	`tx_count` integer NOT NULL,
	`last_change_seq` integer NOT NULL,
	`relay_fee` real
);
--> statement-breakpoint
CREATE TABLE `changes` (
	`seq` integer PRIMARY KEY NOT NULL,
	`height` integer NOT NULL,
	`tip_hash` blob NOT NULL,
	`hashxes` blob NOT NULL
);
--> statement-breakpoint
CREATE TABLE `fee_estimates` (
	`target_blocks` integer PRIMARY KEY NOT NULL,
	`fee_rate` real NOT NULL
);
--> statement-breakpoint
CREATE TABLE `headers` (
	`height` integer PRIMARY KEY NOT NULL,
	`hash` blob NOT NULL,
	`raw` blob NOT NULL,
	`first_tx_num` integer NOT NULL,
	`tx_count` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `history` (
	`hashx` blob NOT NULL,
	`tx_num` integer NOT NULL,
	PRIMARY KEY(`hashx`, `tx_num`)
);
--> statement-breakpoint
CREATE TABLE `mempool_history` (
	`hashx` blob NOT NULL,
	`txid` blob NOT NULL,
	PRIMARY KEY(`hashx`, `txid`)
);
--> statement-breakpoint
CREATE TABLE `mempool_outputs` (
	`txid` blob NOT NULL,
	`vout` integer NOT NULL,
	`hashx` blob NOT NULL,
	`value` integer NOT NULL,
	`refs` blob,
	PRIMARY KEY(`txid`, `vout`)
);
--> statement-breakpoint
CREATE INDEX `mempool_outputs_by_hashx` ON `mempool_outputs` (`hashx`);--> statement-breakpoint
CREATE TABLE `mempool_spends` (
	`prev_txid` blob NOT NULL,
	`prev_vout` integer NOT NULL,
	`txid` blob NOT NULL,
	`hashx` blob NOT NULL,
	`value` integer NOT NULL,
	PRIMARY KEY(`prev_txid`, `prev_vout`)
);
--> statement-breakpoint
CREATE INDEX `mempool_spends_by_hashx` ON `mempool_spends` (`hashx`);--> statement-breakpoint
CREATE TABLE `mempool_txs` (
	`txid` blob PRIMARY KEY NOT NULL,
	`raw` blob NOT NULL,
	`fee` integer NOT NULL,
	`height` integer NOT NULL,
	`size` integer NOT NULL,
	`seen_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `refs` (
	`ref` blob NOT NULL,
	`tx_num` integer NOT NULL,
	PRIMARY KEY(`ref`, `tx_num`)
);
--> statement-breakpoint
CREATE TABLE `status` (
	`hashx` blob PRIMARY KEY NOT NULL,
	`status` blob,
	`confirmed_state` blob,
	`confirmed_count` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `txs` (
	`tx_num` integer PRIMARY KEY NOT NULL,
	`txid` blob NOT NULL,
	`height` integer NOT NULL,
	`position` integer NOT NULL,
	`raw` blob NOT NULL
);
--> statement-breakpoint
CREATE INDEX `txs_by_txid` ON `txs` (`txid`);--> statement-breakpoint
CREATE TABLE `undo` (
	`height` integer PRIMARY KEY NOT NULL,
	`data` blob NOT NULL
);
--> statement-breakpoint
CREATE TABLE `utxos` (
	`tx_num` integer NOT NULL,
	`vout` integer NOT NULL,
	`hashx` blob NOT NULL,
	`value` integer NOT NULL,
	`refs` blob,
	PRIMARY KEY(`tx_num`, `vout`)
);
--> statement-breakpoint
CREATE INDEX `utxos_by_hashx` ON `utxos` (`hashx`);