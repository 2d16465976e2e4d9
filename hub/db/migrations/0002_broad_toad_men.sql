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
CREATE INDEX `jobs_target` ON `jobs` (`target_server_id`);