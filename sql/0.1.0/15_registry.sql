-- The registry: one row per project, and the event outbox.
--
-- The project name is also the name of its schema and of its login role. OIDs
-- are kept too, because the backend hooks look projects up by role and by
-- namespace OID, never by name.

CREATE TABLE schemahost.project (
    name                text PRIMARY KEY,
    schema_oid          oid UNIQUE,
    role_oid            oid UNIQUE,
    state               text NOT NULL DEFAULT 'active'
                        CHECK (state IN ('active', 'suspended', 'dropped')),
    owner_email         text,
    storage_quota_bytes bigint NOT NULL CHECK (storage_quota_bytes > 0),
    max_connections     integer NOT NULL CHECK (max_connections > 0),
    created_at          timestamptz NOT NULL DEFAULT now(),
    dropped_at          timestamptz,
    purge_after         timestamptz,
    -- Runtime limits (sql/0.1.0/40_daemon.sql): NULL = the GUC default
    -- (schemahost.default_statement_timeout / _idle_in_transaction_timeout),
    -- 0 = no limit. Enforced by schemahostd.
    statement_timeout   interval CHECK (statement_timeout >= interval '0'),
    idle_in_transaction_timeout interval CHECK (idle_in_transaction_timeout >= interval '0')
);
COMMENT ON TABLE schemahost.project IS 'one row per project; name = schema name = login role name';

-- The outbox: every event is written in the same transaction as the change
-- that caused it; schemahostd delivers it (see the alerts part). The event id
-- is what receivers deduplicate on.
CREATE TABLE schemahost.event (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id    uuid NOT NULL DEFAULT gen_random_uuid() UNIQUE,
    project     text NOT NULL,
    kind        text NOT NULL,
    payload     jsonb NOT NULL DEFAULT '{}',
    occurred_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ON schemahost.event (project, id);
COMMENT ON TABLE schemahost.event IS 'outbox of project events (quota transitions, lifecycle, runtime limits)';

-- Internal tables are dumped with their data by pg_dump.
SELECT pg_catalog.pg_extension_config_dump('schemahost.project', '');
SELECT pg_catalog.pg_extension_config_dump('schemahost.event', '');
