-- Delegations of signing power (Decree 30/2020 Art. 13): KT., Q., TL., TUQ., time-limited.
CREATE TABLE delegations (
    id           UUID PRIMARY KEY,
    agency_id    UUID NOT NULL REFERENCES agencies(id),
    from_user    UUID NOT NULL REFERENCES users(id),
    to_user      UUID NOT NULL REFERENCES users(id),
    authority    TEXT NOT NULL,
    valid_from   TIMESTAMPTZ NOT NULL,
    valid_until  TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    received_via TEXT,
    -- The written basis, e.g. "Giấy ủy quyền số 12/GUQ-UBND ngày 01/12/2026".
    basis        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL
);
CREATE INDEX delegations_agency ON delegations(agency_id);
CREATE INDEX delegations_to ON delegations(to_user);
