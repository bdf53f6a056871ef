-- Flask-Gamify 0.1.0's schema on sqlite (commit 24294d4): what its create_all() made.
-- Generated once from that commit's models with SQLAlchemy's DDL compiler; do not edit.
-- tests/test_migrations.py builds a 0.1.0 database from it.

CREATE TABLE gamify_goals (
	id INTEGER NOT NULL,
	"key" VARCHAR(200) NOT NULL,
	name VARCHAR(200) NOT NULL,
	description TEXT NOT NULL,
	criteria JSON NOT NULL,
	criteria_hash VARCHAR(64) NOT NULL,
	points INTEGER NOT NULL,
	repeatable BOOLEAN NOT NULL,
	max_awards INTEGER,
	hidden BOOLEAN NOT NULL,
	assigned_only BOOLEAN NOT NULL,
	owner VARCHAR(255),
	starts_at DATETIME,
	ends_at DATETIME,
	entity_type VARCHAR(64) NOT NULL,
	archived_at DATETIME,
	created_at DATETIME NOT NULL,
	updated_at DATETIME NOT NULL,
	CONSTRAINT pk_gamify_goals PRIMARY KEY (id),
	CONSTRAINT uq_gamify_goals_key UNIQUE ("key")
);

CREATE INDEX ix_gamify_goals_owner ON gamify_goals (owner);

CREATE TABLE gamify_events (
	id VARCHAR(128) NOT NULL,
	type VARCHAR(200) NOT NULL,
	entity_type VARCHAR(64) NOT NULL,
	entity_id VARCHAR(255) NOT NULL,
	attributes JSON NOT NULL,
	occurred_at DATETIME NOT NULL,
	processed_at DATETIME NOT NULL,
	CONSTRAINT pk_gamify_events PRIMARY KEY (id)
);

CREATE INDEX ix_gamify_events_processed_at ON gamify_events (processed_at);

CREATE INDEX ix_gamify_events_type ON gamify_events (type, occurred_at);

CREATE INDEX ix_gamify_events_entity ON gamify_events (entity_type, entity_id, occurred_at);

CREATE TABLE gamify_notifications (
	id INTEGER NOT NULL,
	entity_type VARCHAR(64) NOT NULL,
	entity_id VARCHAR(255) NOT NULL,
	kind VARCHAR(64) NOT NULL,
	data JSON NOT NULL,
	created_at DATETIME NOT NULL,
	read_at DATETIME,
	CONSTRAINT pk_gamify_notifications PRIMARY KEY (id)
);

CREATE INDEX ix_gamify_notifications_recipient ON gamify_notifications (entity_type, entity_id);

CREATE TABLE gamify_outbox (
	id INTEGER NOT NULL,
	event JSON NOT NULL,
	created_at DATETIME NOT NULL,
	CONSTRAINT pk_gamify_outbox PRIMARY KEY (id)
);

CREATE TABLE gamify_api_keys (
	id INTEGER NOT NULL,
	name VARCHAR(100) NOT NULL,
	prefix VARCHAR(32) NOT NULL,
	key_hash VARCHAR(64) NOT NULL,
	scopes VARCHAR(200) NOT NULL,
	created_at DATETIME NOT NULL,
	revoked_at DATETIME,
	last_used_at DATETIME,
	CONSTRAINT pk_gamify_api_keys PRIMARY KEY (id),
	CONSTRAINT uq_gamify_api_keys_name UNIQUE (name),
	CONSTRAINT uq_gamify_api_keys_prefix UNIQUE (prefix)
);

CREATE TABLE gamify_progress (
	id INTEGER NOT NULL,
	goal_id INTEGER NOT NULL,
	entity_type VARCHAR(64) NOT NULL,
	entity_id VARCHAR(255) NOT NULL,
	state JSON,
	criteria_hash VARCHAR(64) NOT NULL,
	percent INTEGER NOT NULL,
	times_completed INTEGER NOT NULL,
	completed_at DATETIME,
	updated_at DATETIME NOT NULL,
	CONSTRAINT pk_gamify_progress PRIMARY KEY (id),
	CONSTRAINT uq_gamify_progress_goal_id UNIQUE (goal_id, entity_type, entity_id),
	CONSTRAINT fk_gamify_progress_goal_id_gamify_goals FOREIGN KEY(goal_id) REFERENCES gamify_goals (id) ON DELETE CASCADE
);

CREATE INDEX ix_gamify_progress_entity ON gamify_progress (entity_type, entity_id);

CREATE TABLE gamify_awards (
	id INTEGER NOT NULL,
	goal_id INTEGER NOT NULL,
	entity_type VARCHAR(64) NOT NULL,
	entity_id VARCHAR(255) NOT NULL,
	occurrence INTEGER NOT NULL,
	points INTEGER NOT NULL,
	awarded_at DATETIME NOT NULL,
	CONSTRAINT pk_gamify_awards PRIMARY KEY (id),
	CONSTRAINT uq_gamify_awards_goal_id UNIQUE (goal_id, entity_type, entity_id, occurrence),
	CONSTRAINT fk_gamify_awards_goal_id_gamify_goals FOREIGN KEY(goal_id) REFERENCES gamify_goals (id) ON DELETE CASCADE
);

CREATE INDEX ix_gamify_awards_entity ON gamify_awards (entity_type, entity_id);

CREATE TABLE gamify_assignments (
	id INTEGER NOT NULL,
	goal_id INTEGER NOT NULL,
	entity_type VARCHAR(64) NOT NULL,
	entity_id VARCHAR(255) NOT NULL,
	assigned_by VARCHAR(255),
	assigned_by_type VARCHAR(64) NOT NULL,
	assigned_at DATETIME NOT NULL,
	due_at DATETIME,
	completed_at DATETIME,
	CONSTRAINT pk_gamify_assignments PRIMARY KEY (id),
	CONSTRAINT uq_gamify_assignments_goal_id UNIQUE (goal_id, entity_type, entity_id),
	CONSTRAINT fk_gamify_assignments_goal_id_gamify_goals FOREIGN KEY(goal_id) REFERENCES gamify_goals (id) ON DELETE CASCADE
);

CREATE INDEX ix_gamify_assignments_assigned_by ON gamify_assignments (assigned_by);

CREATE INDEX ix_gamify_assignments_entity_id ON gamify_assignments (entity_id);
