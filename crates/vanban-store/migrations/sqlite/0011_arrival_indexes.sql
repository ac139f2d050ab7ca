-- Fewer index pages written per arrival. An issued document with five internal recipients
-- wrote about 36 pages to the write-ahead log; these indexes wrote about 5.5 of them,
-- for entries no query looks for:
-- - deliveries(recipient_agency_id): no query looks deliveries up by recipient agency;
-- - incoming_items(agency_id, deadline): a deadline is set when the document is assigned,
--   and only rows with one are ever searched by it (overdue lists, reminders);
-- - UNIQUE (agency_id, source_key): only external and scanned arrivals have a source key.
-- SQLite cannot make a table's UNIQUE constraint partial, so incoming_items is rebuilt
-- (nothing references it; its columns keep their order).
DROP INDEX deliveries_recipient;

CREATE TABLE incoming_items_new (
    document_id       BLOB PRIMARY KEY NOT NULL REFERENCES documents(id),
    agency_id         BLOB NOT NULL REFERENCES agencies(id),
    delivery_id       BLOB UNIQUE REFERENCES deliveries(id),
    source_key        TEXT,
    sender_code       TEXT NOT NULL,
    sender_name       TEXT NOT NULL,
    symbol            TEXT NOT NULL,
    issued_on         TEXT,
    priority          INTEGER NOT NULL DEFAULT 0,
    pdf_sha256        TEXT,
    ocr_sha256        TEXT,
    scanned           BOOLEAN NOT NULL DEFAULT FALSE,
    arrived_at        TEXT NOT NULL,
    register_id       BLOB REFERENCES registers(id),
    year              INTEGER,
    arrival_number    BIGINT,
    registered_at     TEXT,
    registered_by     BLOB REFERENCES users(id),
    deadline          TEXT,
    returned_reason   TEXT,
    -- A revocation, update or replacement the sender asked for, waiting for the clerk's answer.
    change_kind       TEXT CHECK (change_kind IN ('revoke', 'update', 'replace')),
    change_reason     TEXT,
    change_state      TEXT CHECK (change_state IN ('pending', 'accepted', 'refused')),
    state_before      TEXT,
    done_at           TEXT,
    result_note       TEXT,
    response_document_id BLOB REFERENCES documents(id),
    change_update     TEXT,
    UNIQUE (register_id, year, arrival_number)
);
INSERT INTO incoming_items_new SELECT * FROM incoming_items;
DROP TABLE incoming_items;
ALTER TABLE incoming_items_new RENAME TO incoming_items;
CREATE UNIQUE INDEX incoming_items_source ON incoming_items(agency_id, source_key) WHERE source_key IS NOT NULL;
CREATE INDEX incoming_items_dup ON incoming_items(agency_id, sender_code, symbol);
CREATE INDEX incoming_items_deadline ON incoming_items(agency_id, deadline) WHERE deadline IS NOT NULL;
