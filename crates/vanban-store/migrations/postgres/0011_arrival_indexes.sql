-- Fewer index pages written per arrival. An issued document with five internal recipients
-- wrote about 36 pages to SQLite's write-ahead log; these indexes wrote about 5.5 of them,
-- for entries no query looks for:
-- - deliveries(recipient_agency_id): no query looks deliveries up by recipient agency;
-- - incoming_items(agency_id, deadline): a deadline is set when the document is assigned,
--   and only rows with one are ever searched by it (overdue lists, reminders);
-- - UNIQUE (agency_id, source_key): only external and scanned arrivals have a source key.
DROP INDEX deliveries_recipient;
DROP INDEX incoming_items_deadline;
CREATE INDEX incoming_items_deadline ON incoming_items(agency_id, deadline) WHERE deadline IS NOT NULL;
ALTER TABLE incoming_items DROP CONSTRAINT incoming_items_agency_id_source_key_key;
CREATE UNIQUE INDEX incoming_items_source ON incoming_items(agency_id, source_key) WHERE source_key IS NOT NULL;
