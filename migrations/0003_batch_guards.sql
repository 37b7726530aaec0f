-- The writer sends a batch's changes and its COMMIT in one round trip, so a statement that
-- changed fewer rows than the batch decided must fail inside the transaction instead of being
-- counted after it: the transaction then aborts and the writer decides the batch again, locked.
CREATE FUNCTION ledger_expect_rows(actual bigint, expected bigint, what text) RETURNS bigint
LANGUAGE plpgsql AS $$
BEGIN
    IF actual <> expected THEN
        RAISE EXCEPTION 'guard mismatch: % expected %, got %', what, expected, actual USING ERRCODE = 'LG001';
    END IF;
    RETURN actual;
END $$;
