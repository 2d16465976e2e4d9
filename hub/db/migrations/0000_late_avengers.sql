CREATE TABLE `agent_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text,
	`expires_at` integer NOT NULL,
	`max_uses` integer,
	`uses` integer DEFAULT 0 NOT NULL,
	`defaults` text,
	`created_at` integer NOT NULL,
	`revoked_at` integer,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE TABLE `api_tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`role` text NOT NULL,
	`token_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_used_at` integer,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `api_tokens_token_hash_unique` ON `api_tokens` (`token_hash`);--> statement-breakpoint
CREATE TABLE `commands` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`server_id` text NOT NULL,
	`kind` text NOT NULL,
	`payload` text,
	`status` text NOT NULL,
	`result` text,
	`created_at` integer NOT NULL,
	`delivered_at` integer,
	`completed_at` integer
);
--> statement-breakpoint
CREATE INDEX `commands_server_status` ON `commands` (`server_id`,`status`);--> statement-breakpoint
CREATE TABLE `orgs` (
	`id` text PRIMARY KEY NOT NULL,
	`name` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE UNIQUE INDEX `orgs_name_unique` ON `orgs` (`name`);--> statement-breakpoint
CREATE TABLE `servers` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`credential_hash` text NOT NULL,
	`enrolled_with` text,
	`hostname` text NOT NULL,
	`machine_id` text NOT NULL,
	`os` text NOT NULL,
	`agent_version` text NOT NULL,
	`addresses` text NOT NULL,
	`data_port` integer NOT NULL,
	`cert_fingerprint` text NOT NULL,
	`filesystems` text NOT NULL,
	`settings` text NOT NULL,
	`state` text,
	`created_at` integer NOT NULL,
	`last_seen_at` integer,
	`last_poll_wait_sec` integer,
	`clock_skew_ms` integer,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `servers_credential_hash_unique` ON `servers` (`credential_hash`);--> statement-breakpoint
CREATE UNIQUE INDEX `servers_org_name` ON `servers` (`org_id`,`name`);--> statement-breakpoint
CREATE TABLE `signing_keys` (
	`kid` text PRIMARY KEY NOT NULL,
	`public_jwk` text NOT NULL,
	`private_jwk` text NOT NULL,
	`created_at` integer NOT NULL
);
