-- Registers, numbering, issuing, delivery, receiving and handling (PostgreSQL).

-- The agency's registers (sổ): outgoing ones number what the agency issues, incoming ones
-- number what it receives. `doc_types` lists the document-type codes a register takes,
-- comma-separated ("quyet_dinh,chi_thi"); an empty list takes every type no other register of
-- the same direction and secrecy claims. Secret documents have their own registers.
CREATE TABLE registers (
    id         UUID PRIMARY KEY,
    agency_id  UUID NOT NULL REFERENCES agencies(id),
    direction  TEXT NOT NULL CHECK (direction IN ('outgoing', 'incoming')),
    name       TEXT NOT NULL,
    doc_types  TEXT NOT NULL DEFAULT '',
    secret     BOOLEAN NOT NULL DEFAULT FALSE,
    -- Appended to the symbol of what it numbers ("05/QĐ-UBND-M"), so a separate sequence (secret
    -- documents) never repeats a symbol of the ordinary one. Empty for ordinary registers.
    suffix     TEXT NOT NULL DEFAULT '',
    active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ NOT NULL,
    UNIQUE (agency_id, direction, name)
);
CREATE INDEX registers_agency ON registers(agency_id, direction);

-- The last number taken in a register in a calendar year. Only ever incremented, inside the
-- write transaction that stores the number on its document.
CREATE TABLE register_counters (
    register_id UUID NOT NULL REFERENCES registers(id),
    year        INTEGER NOT NULL,
    last_number BIGINT NOT NULL,
    PRIMARY KEY (register_id, year)
);

-- The outgoing register: one line per numbered document. A line is written with its number
-- (state 'numbered') and completed when the agency-signed revision is stored ('issued').
CREATE TABLE outgoing_entries (
    document_id UUID PRIMARY KEY REFERENCES documents(id),
    agency_id   UUID NOT NULL REFERENCES agencies(id),
    register_id UUID NOT NULL REFERENCES registers(id),
    year        INTEGER NOT NULL,
    number      BIGINT NOT NULL,
    symbol      TEXT NOT NULL,
    issued_on   DATE NOT NULL,
    state       TEXT NOT NULL CHECK (state IN ('numbered', 'issued')),
    numbered_by UUID REFERENCES users(id),
    numbered_at TIMESTAMPTZ NOT NULL,
    issued_at   TIMESTAMPTZ,
    pdf_sha256  TEXT,
    UNIQUE (register_id, year, number),
    UNIQUE (agency_id, year, symbol)
);
CREATE INDEX outgoing_entries_state ON outgoing_entries(state);
CREATE INDEX outgoing_entries_agency_day ON outgoing_entries(agency_id, issued_on);

-- One row per (outgoing document, recipient). Internal recipients (an agency of this
-- instance) get their incoming document in the same transaction; external ones an outbox row.
-- `status` is the last edXML status the recipient reported ('00' before any).
CREATE TABLE deliveries (
    id                  UUID PRIMARY KEY,
    document_id         UUID NOT NULL REFERENCES documents(id),
    sender_agency_id    UUID NOT NULL REFERENCES agencies(id),
    recipient_code      TEXT NOT NULL,
    recipient_name      TEXT NOT NULL,
    recipient_agency_id UUID REFERENCES agencies(id),
    incoming_id         UUID REFERENCES documents(id),
    channel             TEXT NOT NULL CHECK (channel IN ('internal', 'external')),
    status              TEXT NOT NULL,
    status_note         TEXT,
    status_at           TIMESTAMPTZ NOT NULL,
    created_at          TIMESTAMPTZ NOT NULL,
    UNIQUE (document_id, recipient_code)
);
CREATE INDEX deliveries_recipient ON deliveries(recipient_agency_id);

-- What each recipient reported, in order (the sender's tracking view).
CREATE TABLE delivery_events (
    id          UUID PRIMARY KEY,
    delivery_id UUID NOT NULL REFERENCES deliveries(id),
    code        TEXT NOT NULL,
    description TEXT,
    actor_name  TEXT,
    at          TIMESTAMPTZ NOT NULL
);
CREATE INDEX delivery_events_delivery ON delivery_events(delivery_id, at);

-- Packages waiting to leave the instance (drained by the exchange worker of part 5). The
-- idempotency key (document id + recipient, plus the status for status packages) lets the
-- receiver recognise a resend.
CREATE TABLE outbox (
    id              UUID PRIMARY KEY,
    kind            TEXT NOT NULL CHECK (kind IN ('edoc', 'status')),
    delivery_id     UUID REFERENCES deliveries(id),
    recipient_code  TEXT NOT NULL,
    idempotency_key TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('queued', 'sent', 'failed')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at TIMESTAMPTZ NOT NULL,
    last_error      TEXT,
    created_at      TIMESTAMPTZ NOT NULL,
    sent_at         TIMESTAMPTZ
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at);

-- An incoming document's registration and handling (its `documents` row has direction
-- 'incoming' and an IncomingState). Internal arrivals name their delivery; external ones
-- (part 5) and scanned paper a source key, so an arrival is stored once.
CREATE TABLE incoming_items (
    document_id       UUID PRIMARY KEY REFERENCES documents(id),
    agency_id         UUID NOT NULL REFERENCES agencies(id),
    delivery_id       UUID UNIQUE REFERENCES deliveries(id),
    source_key        TEXT,
    sender_code       TEXT NOT NULL,
    sender_name       TEXT NOT NULL,
    symbol            TEXT NOT NULL,
    issued_on         DATE,
    priority          INTEGER NOT NULL DEFAULT 0,
    pdf_sha256        TEXT,
    ocr_sha256        TEXT,
    scanned           BOOLEAN NOT NULL DEFAULT FALSE,
    arrived_at        TIMESTAMPTZ NOT NULL,
    register_id       UUID REFERENCES registers(id),
    year              INTEGER,
    arrival_number    BIGINT,
    registered_at     TIMESTAMPTZ,
    registered_by     UUID REFERENCES users(id),
    deadline          DATE,
    returned_reason   TEXT,
    -- A revocation, update or replacement the sender asked for, waiting for the clerk's answer.
    change_kind       TEXT CHECK (change_kind IN ('revoke', 'update', 'replace')),
    change_reason     TEXT,
    change_state      TEXT CHECK (change_state IN ('pending', 'accepted', 'refused')),
    state_before      TEXT,
    done_at           TIMESTAMPTZ,
    result_note       TEXT,
    response_document_id UUID REFERENCES documents(id),
    UNIQUE (register_id, year, arrival_number),
    UNIQUE (agency_id, source_key)
);
CREATE INDEX incoming_items_dup ON incoming_items(agency_id, sender_code, symbol);
CREATE INDEX incoming_items_deadline ON incoming_items(agency_id, deadline);

-- Who handles an incoming document: one lead, co-handlers, readers for information.
CREATE TABLE assignments (
    document_id UUID NOT NULL REFERENCES documents(id),
    user_id     UUID NOT NULL REFERENCES users(id),
    agency_id   UUID NOT NULL REFERENCES agencies(id),
    role        TEXT NOT NULL CHECK (role IN ('lead', 'co', 'info')),
    deadline    DATE,
    note        TEXT,
    assigned_by UUID REFERENCES users(id),
    assigned_at TIMESTAMPTZ NOT NULL,
    active      BOOLEAN NOT NULL DEFAULT TRUE,
    PRIMARY KEY (document_id, user_id)
);
CREATE INDEX assignments_user ON assignments(user_id, active);

-- In-app notifications, and the e-mail each may owe (sent by the mail worker).
CREATE TABLE notifications (
    id           UUID PRIMARY KEY,
    user_id      UUID NOT NULL REFERENCES users(id),
    agency_id    UUID NOT NULL REFERENCES agencies(id),
    kind         TEXT NOT NULL,
    document_id  UUID REFERENCES documents(id),
    title        TEXT NOT NULL,
    created_at   TIMESTAMPTZ NOT NULL,
    read_at      TIMESTAMPTZ,
    -- 'sending': claimed by a node's mail worker at email_claimed_at (several nodes never send
    -- one e-mail twice; a claim older than two minutes is taken again).
    email_state  TEXT NOT NULL CHECK (email_state IN ('none', 'pending', 'sending', 'sent', 'failed')),
    email_claimed_at TIMESTAMPTZ,
    email_attempts INTEGER NOT NULL DEFAULT 0,
    email_error  TEXT,
    -- A reminder is written once per (document, user, kind); other kinds leave it NULL.
    dedupe_key   TEXT UNIQUE
);
CREATE INDEX notifications_user ON notifications(user_id, read_at, created_at);
CREATE INDEX notifications_email ON notifications(email_state);
