-- Delegations of signing power (Decree 30/2020 Art. 13): KT., Q., TL., TUQ., time-limited.
CREATE TABLE delegations (
    id           BLOB PRIMARY KEY NOT NULL,
    agency_id    BLOB NOT NULL REFERENCES agencies(id),
    from_user    BLOB NOT NULL REFERENCES users(id),
    to_user      BLOB NOT NULL REFERENCES users(id),
    authority    TEXT NOT NULL,
    valid_from   TEXT NOT NULL,
    valid_until  TEXT NOT NULL,
    revoked_at   TEXT,
    received_via TEXT,
    -- The written basis, e.g. "Giấy ủy quyền số 12/GUQ-UBND ngày 01/12/2026".
    basis        TEXT NOT NULL,
    created_at   TEXT NOT NULL
);
CREATE INDEX delegations_agency ON delegations(agency_id);
CREATE INDEX delegations_to ON delegations(to_user);
