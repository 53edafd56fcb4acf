-- Each document's parent (Document::parent_id), for StateStore::children: the attachments
-- of a deleted message are found by the message's id. NULL for the rows written before (their
-- next commit fills it in) and for documents without a parent, which the index leaves out.
-- SQLite's dialect; migrations/postgres/0006_parent.sql holds the same change: keep the two in
-- step.
ALTER TABLE document_state ADD COLUMN parent_id TEXT;
CREATE INDEX document_state_parent ON document_state (connector_id, parent_id)
    WHERE parent_id IS NOT NULL;
