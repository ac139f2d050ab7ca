-- Files of a document: an uploaded original (DOCX/ODT), its PDF rendition, attachments.
-- The bytes are in the blob store, addressed by SHA-256; this table says what they are.
CREATE TABLE document_files (
    id          BLOB PRIMARY KEY NOT NULL,
    document_id BLOB NOT NULL REFERENCES documents(id),
    kind        TEXT NOT NULL CHECK (kind IN ('original', 'rendition', 'attachment')),
    file_name   TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    sha256      TEXT NOT NULL,
    size        BIGINT NOT NULL,
    -- JSON: what was checked (layout issues of a rendition), or null.
    checks      TEXT,
    created_by  BLOB NOT NULL REFERENCES users(id),
    created_at  TEXT NOT NULL
);
CREATE INDEX document_files_doc ON document_files(document_id, created_at);
