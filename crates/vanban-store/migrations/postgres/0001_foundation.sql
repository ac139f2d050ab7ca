-- vanban foundation schema (PostgreSQL). Never edit a shipped migration: add a new one.
CREATE TABLE agencies (
    id           UUID PRIMARY KEY,
    parent_id    UUID REFERENCES agencies(id),
    -- Materialised path of ancestor ids, "/<root>/<...>/<self>/": subtree checks are one LIKE.
    path         TEXT NOT NULL,
    code         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    parent_name  TEXT,
    abbreviation TEXT NOT NULL,
    level        TEXT NOT NULL CHECK (level IN ('provincial', 'district', 'commune')),
    place        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX agencies_parent ON agencies(parent_id);
CREATE INDEX agencies_path ON agencies(path text_pattern_ops);

CREATE TABLE units (
    id           UUID PRIMARY KEY,
    agency_id    UUID NOT NULL REFERENCES agencies(id),
    parent_id    UUID REFERENCES units(id),
    name         TEXT NOT NULL,
    abbreviation TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    UNIQUE (agency_id, abbreviation)
);

CREATE TABLE users (
    id            UUID PRIMARY KEY,
    agency_id     UUID NOT NULL REFERENCES agencies(id),
    unit_id       UUID REFERENCES units(id),
    username      TEXT NOT NULL UNIQUE,
    full_name     TEXT NOT NULL,
    email         TEXT,
    position      TEXT,
    password_hash TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TIMESTAMPTZ,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE INDEX users_agency ON users(agency_id);

CREATE TABLE role_grants (
    user_id   UUID NOT NULL REFERENCES users(id),
    agency_id UUID NOT NULL REFERENCES agencies(id),
    role      TEXT NOT NULL CHECK (role IN ('admin', 'clerk', 'specialist', 'unit_head', 'leader', 'archivist')),
    PRIMARY KEY (user_id, agency_id, role)
);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users(id),
    csrf_token   TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    ip           TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE documents (
    id          UUID PRIMARY KEY,
    agency_id   UUID NOT NULL REFERENCES agencies(id),
    direction   TEXT NOT NULL CHECK (direction IN ('outgoing', 'incoming')),
    state       TEXT NOT NULL,
    doc_type    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    created_by  UUID NOT NULL REFERENCES users(id),
    created_at  TIMESTAMPTZ NOT NULL,
    updated_at  TIMESTAMPTZ NOT NULL
);
CREATE INDEX documents_agency_state ON documents(agency_id, state);

-- Append-only, hash-chained audit log. The trigger makes UPDATE, DELETE and TRUNCATE fail.
CREATE TABLE audit_events (
    seq             BIGSERIAL PRIMARY KEY,
    id              UUID NOT NULL UNIQUE,
    at              TIMESTAMPTZ NOT NULL,
    actor_user_id   UUID,
    actor_agency_id UUID,
    on_behalf_of    UUID,
    agency_id       UUID,
    action          TEXT NOT NULL,
    object_type     TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    detail          TEXT NOT NULL,
    ip              TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL
);
CREATE INDEX audit_agency ON audit_events(agency_id, seq);
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit_events is append-only';
END;
$$;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only();
