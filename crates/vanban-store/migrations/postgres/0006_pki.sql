-- Certificates and signed PDF revisions (PostgreSQL).

-- The instance's own certification authority: root, issuing CA, timestamping authority, OCSP
-- responder. Instance-wide, not agency data. A role is written once: two nodes starting at once
-- cannot create two CAs (the second insert conflicts and that node reads the winner's).
CREATE TABLE pki_authorities (
    role       TEXT PRIMARY KEY CHECK (role IN ('root', 'issuing', 'tsa', 'ocsp')),
    cert_der   BYTEA NOT NULL,
    -- The private key, encrypted by vanban-pki; opaque here.
    sealed_key BYTEA NOT NULL,
    created_at TIMESTAMPTZ NOT NULL
);

-- Monotonic counters of the PKI (the CRL number), incremented inside a write transaction.
CREATE TABLE pki_counters (
    name  TEXT PRIMARY KEY,
    value BIGINT NOT NULL
);
INSERT INTO pki_counters (name, value) VALUES ('crl_number', 0);

-- Certificates of people (user_id set) and agencies (user_id NULL: the organisational seal).
CREATE TABLE certificates (
    id                UUID PRIMARY KEY,
    agency_id         UUID NOT NULL REFERENCES agencies(id),
    user_id           UUID REFERENCES users(id),
    kind              TEXT NOT NULL CHECK (kind IN ('person', 'organisation')),
    -- Lower-case hexadecimal of the serial number.
    serial_hex        TEXT NOT NULL,
    issuer            TEXT NOT NULL,
    subject           TEXT NOT NULL,
    not_before        TIMESTAMPTZ NOT NULL,
    not_after         TIMESTAMPTZ NOT NULL,
    -- SHA-256 (lower-case hex) of cert_der, computed by the store.
    fingerprint       TEXT NOT NULL UNIQUE,
    cert_der          BYTEA NOT NULL,
    -- The issuer chain: DER certificates concatenated, the issuer first, then its issuer, up to
    -- the root (DER values are self-delimiting). Empty when the chain is not known.
    chain_der         BYTEA NOT NULL,
    provider          TEXT NOT NULL CHECK (provider IN ('software', 'pkcs11', 'remote')),
    -- Software keys only, encrypted by vanban-pki; opaque here.
    sealed_key        BYTEA,
    status            TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'revoked')),
    revoked_at        TIMESTAMPTZ,
    revocation_reason TEXT,
    -- NULL when the system issued it (a command, start-up).
    created_by        UUID REFERENCES users(id),
    created_at        TIMESTAMPTZ NOT NULL,
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
    owner_id   UUID NOT NULL,
    agency_id  UUID NOT NULL REFERENCES agencies(id),
    sha256     TEXT NOT NULL,
    width_px   INTEGER NOT NULL,
    height_px  INTEGER NOT NULL,
    updated_by UUID REFERENCES users(id),
    updated_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (owner_kind, owner_id)
);

-- The revisions of a document's legal PDF, which grows by incremental updates: each row is the
-- whole file after one revision (seq 0 the rendering, then the signatures, the number, the
-- timestamps), its bytes in the blob store. Each revision is appended on the previous head.
CREATE TABLE document_revisions (
    document_id    UUID NOT NULL REFERENCES documents(id),
    seq            INTEGER NOT NULL,
    agency_id      UUID NOT NULL REFERENCES agencies(id),
    kind           TEXT NOT NULL CHECK (kind IN ('render', 'signer', 'agency', 'number', 'timestamp', 'ltv')),
    pdf_sha256     TEXT NOT NULL,
    pdf_size       BIGINT NOT NULL,
    certificate_id UUID REFERENCES certificates(id),
    signer_name    TEXT,
    signed_at      TIMESTAMPTZ,
    -- JSON: a summary of the validation of this revision, or null.
    validation     TEXT,
    created_by     UUID REFERENCES users(id),
    created_at     TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (document_id, seq)
);

-- Two-phase signing: the server prepares the revision with its placeholder, the signature value
-- is produced where the key is (a USB token through a local agent, a remote service), then
-- embedded. A session is completed once.
CREATE TABLE signing_sessions (
    id              UUID PRIMARY KEY,
    document_id     UUID NOT NULL REFERENCES documents(id),
    agency_id       UUID NOT NULL REFERENCES agencies(id),
    user_id         UUID NOT NULL REFERENCES users(id),
    kind            TEXT NOT NULL CHECK (kind IN ('signer', 'agency')),
    certificate_id  UUID NOT NULL REFERENCES certificates(id),
    -- Blob of the prepared PDF with its placeholder, and the head it was prepared on.
    prepared_sha256 TEXT NOT NULL,
    base_sha256     TEXT NOT NULL,
    -- DER of the CMS signed attributes, and the hex digest to sign.
    to_be_signed    BYTEA NOT NULL,
    digest_hex      TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'completed', 'expired')),
    created_at      TIMESTAMPTZ NOT NULL,
    expires_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX signing_sessions_doc ON signing_sessions(document_id);
