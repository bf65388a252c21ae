-- MetaNode cluster profile, PostgreSQL 15: objects shared by the Orleans ADO.NET providers.
--
-- Contract with the providers (Microsoft.Orleans.Clustering/Persistence/Reminders.AdoNet):
--   * at start-up each provider reads "SELECT QueryKey, QueryText FROM OrleansQuery" and keeps the
--     statements it knows by key;
--   * it binds parameters by name (@Name) and reads result columns by name, so the names used in
--     these scripts are part of the contract and must not change;
--   * queries that report success return exactly one row with one column (true/false or a count).
--
-- Every statement in the four scripts is idempotent: the migrator applies all of them, in order,
-- inside one transaction on each run, so running it twice changes nothing.

CREATE TABLE IF NOT EXISTS OrleansQuery
(
    QueryKey  varchar(64) NOT NULL,
    QueryText text        NOT NULL,

    CONSTRAINT PK_OrleansQuery PRIMARY KEY (QueryKey)
);

-- One row per schema version this project has installed in the database.
CREATE TABLE IF NOT EXISTS MetaNodeSchemaVersion
(
    Version        integer     NOT NULL,
    Description    text        NOT NULL,
    ScriptsSha256  text        NOT NULL,
    FirstAppliedAt timestamptz NOT NULL DEFAULT now(),
    LastAppliedAt  timestamptz NOT NULL DEFAULT now(),
    AppliedCount   integer     NOT NULL DEFAULT 1,

    CONSTRAINT PK_MetaNodeSchemaVersion PRIMARY KEY (Version)
);
