"""The lock backend's tables, as numbered migrations; data only (applied by `pg.ensure_schema`).

Append a migration to change the schema; never edit one that has shipped. Every table is
prefixed `rlstate_` so the database can be shared with other applications.
"""

from __future__ import annotations

MIGRATIONS: tuple[tuple[int, tuple[str, ...]], ...] = (
    (
        1,
        (
            """CREATE TABLE rlstate_locks (
                lock_key bigint PRIMARY KEY,
                stack text NOT NULL,
                api text NOT NULL,
                holder_user text NOT NULL,
                host text NOT NULL,
                pid integer NOT NULL,
                command text NOT NULL,
                since timestamptz NOT NULL,
                backend_pid integer NOT NULL,
                run_id bigint
            )""",
            """CREATE TABLE rlstate_runs (
                id bigserial PRIMARY KEY,
                stack text NOT NULL,
                api text NOT NULL,
                command text NOT NULL,
                run_user text NOT NULL,
                host text NOT NULL,
                pid integer NOT NULL,
                backend_pid integer,
                started_at timestamptz NOT NULL DEFAULT now(),
                ended_at timestamptz,
                exit_status integer,
                plan_digest text,
                counts jsonb NOT NULL DEFAULT '{}'::jsonb,
                summary jsonb,
                error text
            )""",
            "CREATE INDEX rlstate_runs_by_stack ON rlstate_runs (stack, api, started_at DESC)",
            """CREATE TABLE rlstate_run_actions (
                run_id bigint NOT NULL REFERENCES rlstate_runs (id) ON DELETE CASCADE,
                seq integer NOT NULL,
                action_id text NOT NULL,
                address text NOT NULL,
                kind text NOT NULL,
                state text NOT NULL,
                message text NOT NULL,
                resource_id text,
                PRIMARY KEY (run_id, seq)
            )""",
        ),
    ),
)

LATEST = MIGRATIONS[-1][0]
