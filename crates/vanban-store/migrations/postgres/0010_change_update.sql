-- An update (business type 2) carries the corrected metadata: the fields that change, as JSON
-- ({"subject", "priority", "due_date"}), kept with the pending change and applied to the
-- recipient's copy when its clerk agrees (status 15).
ALTER TABLE incoming_items ADD COLUMN change_update TEXT;
