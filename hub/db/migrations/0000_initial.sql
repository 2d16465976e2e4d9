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
--> statement-breakpoint
CREATE TABLE `email_settings` (
	`org_id` text PRIMARY KEY NOT NULL,
	`enabled` integer NOT NULL,
	`host` text NOT NULL,
	`port` integer NOT NULL,
	`tls` text NOT NULL,
	`username` text,
	`password` text,
	`from_address` text NOT NULL,
	`recipients` text NOT NULL,
	`subject_prefix` text NOT NULL,
	`include_text` integer NOT NULL,
	`filter` text NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `events` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`type_id` integer NOT NULL,
	`name` text NOT NULL,
	`severity` text NOT NULL,
	`message` text NOT NULL,
	`fields` text NOT NULL,
	`job_id` text,
	`server_id` text,
	`dedup_key` text NOT NULL,
	`resolves` text,
	`count` integer DEFAULT 1 NOT NULL,
	`first_at` integer NOT NULL,
	`last_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `events_org_first` ON `events` (`org_id`,`first_at`);--> statement-breakpoint
CREATE INDEX `events_org_dedup` ON `events` (`org_id`,`dedup_key`,`first_at`);--> statement-breakpoint
CREATE TABLE `notification_attempts` (
	`id` text PRIMARY KEY NOT NULL,
	`delivery_id` text NOT NULL,
	`org_id` text NOT NULL,
	`at` integer NOT NULL,
	`status_code` integer,
	`ok` integer NOT NULL,
	`error` text,
	`duration_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `attempts_delivery` ON `notification_attempts` (`delivery_id`,`at`);--> statement-breakpoint
CREATE TABLE `notification_deliveries` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`event_id` text NOT NULL,
	`channel` text NOT NULL,
	`endpoint_id` text,
	`status` text NOT NULL,
	`attempts` integer DEFAULT 0 NOT NULL,
	`next_attempt_at` integer NOT NULL,
	`lease_until` integer,
	`last_status_code` integer,
	`last_error` text,
	`created_at` integer NOT NULL,
	`completed_at` integer
);
--> statement-breakpoint
CREATE INDEX `deliveries_due` ON `notification_deliveries` (`status`,`next_attempt_at`);--> statement-breakpoint
CREATE INDEX `deliveries_endpoint` ON `notification_deliveries` (`endpoint_id`,`created_at`);--> statement-breakpoint
CREATE INDEX `deliveries_event` ON `notification_deliveries` (`event_id`);--> statement-breakpoint
CREATE TABLE `webhook_endpoints` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text,
	`url` text NOT NULL,
	`secret` text NOT NULL,
	`format` text NOT NULL,
	`filter` text NOT NULL,
	`enabled` integer NOT NULL,
	`disabled_reason` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `webhook_endpoints_org` ON `webhook_endpoints` (`org_id`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`id` text PRIMARY KEY NOT NULL,
	`org_id` text NOT NULL,
	`name` text NOT NULL,
	`type` text NOT NULL,
	`source_server_id` text NOT NULL,
	`target_server_id` text NOT NULL,
	`spec` text NOT NULL,
	`state` text NOT NULL,
	`resume_state` text,
	`epoch` integer DEFAULT 1 NOT NULL,
	`mirror_request` text,
	`verify_request` text,
	`controls` text NOT NULL,
	`source_status` text,
	`target_status` text,
	`source_status_at` integer,
	`target_status_at` integer,
	`verify_report` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL,
	FOREIGN KEY (`org_id`) REFERENCES `orgs`(`id`) ON UPDATE no action ON DELETE no action
);
--> statement-breakpoint
CREATE UNIQUE INDEX `jobs_org_name` ON `jobs` (`org_id`,`name`);--> statement-breakpoint
CREATE INDEX `jobs_source` ON `jobs` (`source_server_id`);--> statement-breakpoint
CREATE INDEX `jobs_target` ON `jobs` (`target_server_id`);--> statement-breakpoint
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