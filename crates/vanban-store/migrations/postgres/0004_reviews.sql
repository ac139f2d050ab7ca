-- Review rounds: the reviewers a drafter chose, in sequence or in parallel, and what each did.
CREATE TABLE review_steps (
    id          UUID PRIMARY KEY,
    document_id UUID NOT NULL REFERENCES documents(id),
    round       INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    reviewer    UUID NOT NULL REFERENCES users(id),
    mode        TEXT NOT NULL CHECK (mode IN ('sequential', 'parallel')),
    state       TEXT NOT NULL CHECK (state IN ('pending', 'approved', 'returned', 'cancelled')),
    -- The reviewer's initials (ký nháy) on the version reviewed.
    initialled  BOOLEAN NOT NULL DEFAULT FALSE,
    version     INTEGER,
    reason      TEXT,
    acted_at    TIMESTAMPTZ,
    UNIQUE (document_id, round, position)
);
CREATE INDEX review_steps_reviewer ON review_steps(reviewer, state);
