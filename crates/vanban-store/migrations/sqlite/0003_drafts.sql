-- Drafting: every saved version of a draft's content is kept, with comments per version.
CREATE TABLE document_versions (
    document_id BLOB NOT NULL REFERENCES documents(id),
    version     INTEGER NOT NULL,
    -- The draft's content as JSON (subject, body, addressees, recipients, signer, appendices).
    content     TEXT NOT NULL,
    note        TEXT,
    created_by  BLOB NOT NULL REFERENCES users(id),
    created_at  TEXT NOT NULL,
    PRIMARY KEY (document_id, version)
);

CREATE TABLE document_comments (
    id          BLOB PRIMARY KEY NOT NULL,
    document_id BLOB NOT NULL REFERENCES documents(id),
    version     INTEGER NOT NULL,
    author      BLOB NOT NULL REFERENCES users(id),
    body        TEXT NOT NULL,
    created_at  TEXT NOT NULL
);
CREATE INDEX document_comments_doc ON document_comments(document_id, created_at);
