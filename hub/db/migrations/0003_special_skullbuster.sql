CREATE TABLE `activation_requests` (
	`nonce` text NOT NULL,
	`host` text NOT NULL,
	`org_id` text NOT NULL,
	`licence_id` text NOT NULL,
	`assignment_id` text NOT NULL,
	`used_at` integer NOT NULL,
	PRIMARY KEY(`host`, `nonce`)
);
--> statement-breakpoint
CREATE TABLE `hub_secrets` (
	`name` text PRIMARY KEY NOT NULL,
	`secret` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `job_seats` (
	`job_id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`licence_id` text NOT NULL,
	`claimed_at` integer NOT NULL,
	FOREIGN KEY (`licence_id`) REFERENCES `licences`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `job_seats_licence` ON `job_seats` (`licence_id`);--> statement-breakpoint
CREATE TABLE `licence_assignments` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`licence_id` text NOT NULL,
	`server_id` text,
	`state` text NOT NULL,
	`applied_at` integer NOT NULL,
	`activation_deadline` integer,
	`activated_at` integer,
	`activation_method` text,
	`host_fingerprint` text,
	`hostname` text,
	`deactivated_at` integer,
	`deactivation_reason` text,
	`file_expires_at` integer,
	`events_raised` text NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action,
	FOREIGN KEY (`licence_id`) REFERENCES `licences`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE INDEX `licence_assignments_licence` ON `licence_assignments` (`licence_id`,`state`);--> statement-breakpoint
CREATE INDEX `licence_assignments_server` ON `licence_assignments` (`server_id`,`state`);--> statement-breakpoint
CREATE TABLE `licences` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`code` text NOT NULL,
	`serial` integer NOT NULL,
	`type` text NOT NULL,
	`edition` text NOT NULL,
	`requires_activation` integer NOT NULL,
	`expires_at` integer,
	`quantity` integer,
	`seat_job_types` text,
	`product` text NOT NULL,
	`version` text NOT NULL,
	`host_transfers_used` integer DEFAULT 0 NOT NULL,
	`issued_at` integer NOT NULL,
	`issued_by` text,
	`added_at` integer,
	`expiry_warnings_sent` text NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `licences_code_unique` ON `licences` (`code`);--> statement-breakpoint
CREATE UNIQUE INDEX `licences_serial_unique` ON `licences` (`serial`);--> statement-breakpoint
CREATE INDEX `licences_org` ON `licences` (`org_id`);--> statement-breakpoint
CREATE TABLE `portal_login_failures` (
	`key` text PRIMARY KEY NOT NULL,
	`count` integer NOT NULL,
	`window_start` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `portal_sessions` (
	`id` text PRIMARY KEY NOT NULL,
	`user_id` text NOT NULL,
	`org_id` text NOT NULL,
	`csrf` text NOT NULL,
	`created_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `portal_sessions_user` ON `portal_sessions` (`user_id`);--> statement-breakpoint
CREATE TABLE `portal_users` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`email` text NOT NULL,
	`name` text,
	`password_hash` text NOT NULL,
	`created_at` integer NOT NULL,
	`last_login_at` integer,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `portal_users_email_unique` ON `portal_users` (`email`);