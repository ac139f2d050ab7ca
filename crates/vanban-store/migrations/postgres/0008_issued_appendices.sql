-- Appendices issued in separate files: each PDF attachment of the document, signed with the
-- agency's image-less stamp at issue. JSON list of {"name", "sha256", "size"} (blobs).
ALTER TABLE outgoing_entries ADD COLUMN appendices TEXT NOT NULL DEFAULT '[]';
