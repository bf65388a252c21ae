-- MetaNode's audit log: one row per client mutation and per refused client call, appended by the silos'
-- call filter. Rows are never updated or deleted: the trigger below refuses both, whoever asks.

CREATE TABLE IF NOT EXISTS MetaNodeAudit
(
    Id       bigserial   NOT NULL,
    Time     timestamptz NOT NULL,
    Identity text        NOT NULL,
    Method   text        NOT NULL,
    Target   text        NOT NULL,
    Outcome  text        NOT NULL,

    CONSTRAINT PK_MetaNodeAudit PRIMARY KEY (Id)
);

CREATE INDEX IF NOT EXISTS IX_MetaNodeAudit_Time ON MetaNodeAudit (Time);

CREATE OR REPLACE FUNCTION MetaNodeAudit_AppendOnly() RETURNS trigger
LANGUAGE plpgsql AS
$$
BEGIN
    RAISE EXCEPTION 'the MetaNode audit log is append-only';
END;
$$;

DROP TRIGGER IF EXISTS MetaNodeAudit_NoChange ON MetaNodeAudit;
CREATE TRIGGER MetaNodeAudit_NoChange BEFORE UPDATE OR DELETE OR TRUNCATE ON MetaNodeAudit
    FOR EACH STATEMENT EXECUTE FUNCTION MetaNodeAudit_AppendOnly();
