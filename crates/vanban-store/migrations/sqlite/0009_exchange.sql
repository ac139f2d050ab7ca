-- The exchange with other systems through an axis (part 5).

-- The instance's package-signing identity: an organisational certificate of the instance CA
-- whose key (sealed under pki_passphrase) signs the XML-DSig of every edXML package that
-- leaves. Written once; two nodes starting together read the winner's.
CREATE TABLE exchange_identity (
    name       TEXT PRIMARY KEY NOT NULL,
    cert_der   BLOB NOT NULL,
    sealed_key BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- Outbox rows are claimed by one node's worker until `claimed_until`; `remote_id` is the
-- axis's DocID once sent; `package_sha256` the built package (a blob), so a retry resends the
-- very same bytes.
ALTER TABLE outbox ADD COLUMN claimed_until TEXT;
ALTER TABLE outbox ADD COLUMN remote_id TEXT;
ALTER TABLE outbox ADD COLUMN package_sha256 TEXT;
-- A row waits while an earlier row of its delivery is unsent (a revocation behind its document).
CREATE INDEX outbox_delivery ON outbox(delivery_id, created_at);

-- Every package picked up from the axis, once, with what became of it. Written in the same
-- transaction as its effect (an incoming document, a status on a delivery), so a package
-- fetched twice (a crash before the pickup was acknowledged) has its effect once.
CREATE TABLE exchange_inbox (
    remote_id    TEXT PRIMARY KEY NOT NULL,
    kind         TEXT NOT NULL CHECK (kind IN ('edoc', 'status')),
    from_code    TEXT NOT NULL,
    document_id  TEXT NOT NULL,
    outcome      TEXT NOT NULL CHECK (outcome IN ('accepted', 'rejected', 'ignored')),
    reason       TEXT,
    detail       TEXT NOT NULL DEFAULT '{}',
    received_at  TEXT NOT NULL
);
CREATE INDEX exchange_inbox_received ON exchange_inbox(received_at);
