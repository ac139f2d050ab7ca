-- vanban foundation schema (SQLite). Never edit a shipped migration: add a new one.
CREATE TABLE agencies (
    id           BLOB PRIMARY KEY NOT NULL,
    parent_id    BLOB REFERENCES agencies(id),
    -- Materialised path of ancestor ids, "/<root>/<...>/<self>/": subtree checks are one LIKE.
    path         TEXT NOT NULL,
    code         TEXT NOT NULL UNIQUE,
    name         TEXT NOT NULL,
    parent_name  TEXT,
    abbreviation TEXT NOT NULL,
    level        TEXT NOT NULL CHECK (level IN ('provincial', 'district', 'commune')),
    place        TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX agencies_parent ON agencies(parent_id);
CREATE INDEX agencies_path ON agencies(path);

CREATE TABLE units (
    id           BLOB PRIMARY KEY NOT NULL,
    agency_id    BLOB NOT NULL REFERENCES agencies(id),
    parent_id    BLOB REFERENCES units(id),
    name         TEXT NOT NULL,
    abbreviation TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    UNIQUE (agency_id, abbreviation)
);

CREATE TABLE users (
    id            BLOB PRIMARY KEY NOT NULL,
    agency_id     BLOB NOT NULL REFERENCES agencies(id),
    unit_id       BLOB REFERENCES units(id),
    username      TEXT NOT NULL UNIQUE,
    full_name     TEXT NOT NULL,
    email         TEXT,
    position      TEXT,
    password_hash TEXT NOT NULL,
    active        BOOLEAN NOT NULL DEFAULT TRUE,
    failed_logins INTEGER NOT NULL DEFAULT 0,
    locked_until  TEXT,
    created_at    TEXT NOT NULL
);
CREATE INDEX users_agency ON users(agency_id);

CREATE TABLE role_grants (
    user_id   BLOB NOT NULL REFERENCES users(id),
    agency_id BLOB NOT NULL REFERENCES agencies(id),
    role      TEXT NOT NULL CHECK (role IN ('admin', 'clerk', 'specialist', 'unit_head', 'leader', 'archivist')),
    PRIMARY KEY (user_id, agency_id, role)
);

CREATE TABLE sessions (
    token_hash   TEXT PRIMARY KEY NOT NULL,
    user_id      BLOB NOT NULL REFERENCES users(id),
    csrf_token   TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    expires_at   TEXT NOT NULL,
    ip           TEXT
);
CREATE INDEX sessions_user ON sessions(user_id);

CREATE TABLE documents (
    id          BLOB PRIMARY KEY NOT NULL,
    agency_id   BLOB NOT NULL REFERENCES agencies(id),
    direction   TEXT NOT NULL CHECK (direction IN ('outgoing', 'incoming')),
    state       TEXT NOT NULL,
    doc_type    TEXT NOT NULL,
    subject     TEXT NOT NULL,
    metadata    TEXT NOT NULL,
    created_by  BLOB NOT NULL REFERENCES users(id),
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX documents_agency_state ON documents(agency_id, state);

-- Append-only, hash-chained audit log. The triggers make UPDATE and DELETE fail.
CREATE TABLE audit_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    id              BLOB NOT NULL UNIQUE,
    at              TEXT NOT NULL,
    actor_user_id   BLOB,
    actor_agency_id BLOB,
    on_behalf_of    BLOB,
    agency_id       BLOB,
    action          TEXT NOT NULL,
    object_type     TEXT NOT NULL,
    object_id       TEXT NOT NULL,
    detail          TEXT NOT NULL,
    ip              TEXT,
    prev_hash       TEXT NOT NULL,
    hash            TEXT NOT NULL
);
CREATE INDEX audit_agency ON audit_events(agency_id, seq);
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END;
