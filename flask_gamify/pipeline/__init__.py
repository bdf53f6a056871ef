"""The event pipeline: Redis stream shards drained by RQ jobs in ``flask gamify worker``."""
