-- Certificates and signed PDF revisions (SQLite).

-- The instance's own certification authority: root, issuing CA, timestamping authority, OCSP
-- responder. Instance-wide, not agency data. A role is written once: two nodes starting at once
-- cannot create two CAs (the second insert conflicts and that node reads the winner's).
CREATE TABLE pki_authorities (
    role       TEXT PRIMARY KEY NOT NULL CHECK (role IN ('root', 'issuing', 'tsa', 'ocsp')),
    cert_der   BLOB NOT NULL,
    -- The private key, encrypted by vanban-pki; opaque here.
    sealed_key BLOB NOT NULL,
    created_at TEXT NOT NULL
);

-- Monotonic counters of the PKI (the CRL number), incremented inside a write transaction.
CREATE TABLE pki_counters (
    name  TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO pki_counters (name, value) VALUES ('crl_number', 0);

-- Certificates of people (user_id set) and agencies (user_id NULL: the organisational seal).
CREATE TABLE certificates (
    id                BLOB PRIMARY KEY NOT NULL,
    agency_id         BLOB NOT NULL REFERENCES agencies(id),
    user_id           BLOB REFERENCES users(id),
    kind              TEXT NOT NULL CHECK (kind IN ('person', 'organisation')),
    -- Lower-case hexadecimal of the serial number.
    serial_hex        TEXT NOT NULL,
    issuer            TEXT NOT NULL,
    subject           TEXT NOT NULL,
    not_before        TEXT NOT NULL,
    not_after         TEXT NOT NULL,
    -- SHA-256 (lower-case hex) of cert_der, computed by the store.
    fingerprint       TEXT NOT NULL UNIQUE,
    cert_der          BLOB NOT NULL,
    -- The issuer chain: DER certificates concatenated, the issuer first, then its issuer, up to
    -- the root (DER values are self-delimiting). Empty when the chain is not known.
    chain_der         BLOB NOT NULL,
    provider          TEXT NOT NULL CHECK (provider IN ('software', 'pkcs11', 'remote')),
    -- Software keys only, encrypted by vanban-pki; opaque here.
    sealed_key        BLOB,
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    revoked_at        TEXT,
    revocation_reason TEXT,
    -- NULL when the system issued it (a command, start-up).
    created_by        BLOB REFERENCES users(id),
    created_at        TEXT NOT NULL,
    UNIQUE (issuer, serial_hex),
    CHECK ((kind = 'person') = (user_id IS NOT NULL)),
    CHECK ((provider = 'software') = (sealed_key IS NOT NULL)),
    CHECK ((status = 'revoked') = (revoked_at IS NOT NULL))
);
CREATE INDEX certificates_owner ON certificates(agency_id, user_id);
CREATE INDEX certificates_serial ON certificates(serial_hex);

-- The image stamped with a signature: a holder's handwritten signature, an agency's seal. The
-- PNG is in the blob store, addressed by sha256; owner_id is a user id or an agency id.
CREATE TABLE signing_images (
    owner_kind TEXT NOT NULL CHECK (owner_kind IN ('user', 'agency')),
    owner_id   BLOB NOT NULL,
    agency_id  BLOB NOT NULL REFERENCES agencies(id),
    sha256     TEXT NOT NULL,
    width_px   INTEGER NOT NULL,
    height_px  INTEGER NOT NULL,
    updated_by BLOB REFERENCES users(id),
    updated_at TEXT NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);

-- The revisions of a document's legal PDF, which grows by incremental updates: each row is the
-- whole file after one revision (seq 0 the rendering, then the signatures, the number, the
-- timestamps), its bytes in the blob store. Each revision is appended on the previous head.
CREATE TABLE document_revisions (
    document_id    BLOB NOT NULL REFERENCES documents(id),
    seq            INTEGER NOT NULL,
    agency_id      BLOB NOT NULL REFERENCES agencies(id),
    kind           TEXT NOT NULL CHECK (kind IN ('render', 'signer', 'agency', 'number', 'timestamp', 'ltv')),
    pdf_sha256     TEXT NOT NULL,
    pdf_size       BIGINT NOT NULL,
    certificate_id BLOB REFERENCES certificates(id),
    signer_name    TEXT,
    signed_at      TEXT,
    -- JSON: a summary of the validation of this revision, or null.
    validation     TEXT,
    created_by     BLOB REFERENCES users(id),
    created_at     TEXT NOT NULL,
    PRIMARY KEY (document_id, seq)
);

-- Two-phase signing: the server prepares the revision with its placeholder, the signature value
-- is produced where the key is (a USB token through a local agent, a remote service), then
-- embedded. A session is completed once.
CREATE TABLE signing_sessions (
    id              BLOB PRIMARY KEY NOT NULL,
    document_id     BLOB NOT NULL REFERENCES documents(id),
    agency_id       BLOB NOT NULL REFERENCES agencies(id),
    user_id         BLOB NOT NULL REFERENCES users(id),
    kind            TEXT NOT NULL CHECK (kind IN ('signer', 'agency')),
    certificate_id  BLOB NOT NULL REFERENCES certificates(id),
    -- Blob of the prepared PDF with its placeholder, and the head it was prepared on.
    prepared_sha256 TEXT NOT NULL,
    base_sha256     TEXT NOT NULL,
    -- DER of the CMS signed attributes, and the hex digest to sign.
    to_be_signed    BLOB NOT NULL,
    digest_hex      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'completed', 'expired')),
    created_at      TEXT NOT NULL,
    expires_at      TEXT NOT NULL
);
CREATE INDEX signing_sessions_doc ON signing_sessions(document_id);
