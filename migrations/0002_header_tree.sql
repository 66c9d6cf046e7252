-- header_tree: complete-subtree hashes for cp_height proofs. WITHOUT ROWID added by hand after
-- drizzle-kit generate (drizzle cannot express it; see the note at the end of core/schema.ts).
CREATE TABLE `header_tree` (
	`level` integer NOT NULL,
	`idx` integer NOT NULL,
	`hash` blob NOT NULL,
	PRIMARY KEY(`level`, `idx`)
) WITHOUT ROWID;
