-- A live event takes its transaction id before its event id (issue 9: boards missed events).
--
-- The reader (src/live/highWaterMark.ts) steps over a missing id only once every transaction that
-- could hold it has ended, and it finds those transactions as the ones holding a transaction id
-- (pg_stat_activity.backend_xid) when it looks. That is only complete if whoever took an id already
-- had a transaction id at that moment. An INSERT that is a transaction's first write takes the
-- sequence value before PostgreSQL assigns the transaction id; the triggers always write another
-- row first, but this makes the order a property of the one function every producer calls.
CREATE OR REPLACE FUNCTION vigil_live_emit(p_company_id uuid, p_type text, p_payload jsonb) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_current_xact_id();
  INSERT INTO live_events (company_id, type, payload) VALUES (p_company_id, p_type, p_payload);
  -- Identical notifications of one transaction are folded into one by PostgreSQL.
  PERFORM pg_notify('vigil_live_events', '');
END
$$;
