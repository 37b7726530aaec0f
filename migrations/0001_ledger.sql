-- The ledger: append-only events plus the inline guard tables that the writer updates in the
-- same transaction. The CHECK and UNIQUE constraints are the last line of defence for the
-- invariants in docs/architecture.md, whatever the application or any cache believes.

-- Times cross the wire as integer epoch milliseconds; these convert exactly (no float rounding).
CREATE FUNCTION ledger_time(ms bigint) RETURNS timestamptz
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN timestamptz 'epoch' + ms * interval '1 millisecond';
CREATE FUNCTION ledger_ms(t timestamptz) RETURNS bigint
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    RETURN (extract(epoch FROM t) * 1000)::bigint;

-- One row. Every writer transaction locks it (FOR UPDATE) before choosing positions, so
-- positions are handed out and committed in the same order (invariant 6: no gaps for tailers).
CREATE TABLE ledger_head (
    id       smallint PRIMARY KEY CHECK (id = 1),
    position bigint   NOT NULL CHECK (position >= 0)
);
INSERT INTO ledger_head (id, position) VALUES (1, 0);

CREATE TABLE events (
    position       bigint      PRIMARY KEY,
    -- Byte-order collation: indexed ids need no locale rules, and strcoll showed in profiles.
    stream_id      text        COLLATE "C" NOT NULL,
    stream_version bigint      NOT NULL CHECK (stream_version >= 1),
    event_id       uuid        NOT NULL UNIQUE,
    type           text        NOT NULL,
    schema_version int         NOT NULL CHECK (schema_version >= 1),
    data           jsonb       NOT NULL,
    metadata       jsonb       NOT NULL,
    product_id     bigint      NOT NULL,
    user_id        bigint,
    recorded_at    timestamptz NOT NULL DEFAULT now(),
    -- One event per stream version: a reservation stream has version 1 (reserved) and at most
    -- one version 2 (confirmed or reverted), so it ends at most once (invariant 3).
    CONSTRAINT events_stream_version UNIQUE (stream_id, stream_version),
    CONSTRAINT events_reservation_ends_once CHECK (stream_id NOT LIKE 'reservation-%' OR stream_version <= 2)
);
CREATE INDEX events_by_product ON events (product_id, position);
-- A user's events are their reservations' streams: read through reservations_by_user, so
-- the hot insert path maintains one index fewer.

CREATE TABLE products (
    product_id              bigint      PRIMARY KEY CHECK (product_id > 0),
    name                    text        NOT NULL,
    price_minor             bigint      NOT NULL CHECK (price_minor >= 0),
    currency                text        NOT NULL CHECK (currency ~ '^[A-Z]{3}$'),
    initial_stock           bigint      NOT NULL CHECK (initial_stock >= 0),
    starts_at               timestamptz NOT NULL,
    ends_at                 timestamptz NOT NULL,
    limit_per_user          bigint      NOT NULL CHECK (limit_per_user > 0),
    reservation_ttl_seconds bigint      NOT NULL CHECK (reservation_ttl_seconds > 0),
    stream_version          bigint      NOT NULL CHECK (stream_version >= 1),
    CHECK (ends_at > starts_at)
);

-- Invariant 1: reserved (not reverted) units never exceed the stock.
CREATE TABLE inventory (
    product_id bigint PRIMARY KEY REFERENCES products (product_id),
    total      bigint NOT NULL CHECK (total >= 0),
    reserved   bigint NOT NULL CHECK (reserved >= 0),
    CONSTRAINT inventory_never_oversold CHECK (reserved <= total)
);

-- Invariant 2: a user's non-reverted units of a product never exceed the product's limit.
-- No foreign keys on the per-reservation tables: an RI check per inserted row cost more than
-- the rest of the insert, and the writer only writes rows for products it has locked.
CREATE TABLE purchases (
    product_id     bigint NOT NULL,
    user_id        bigint NOT NULL CHECK (user_id > 0),
    quantity       bigint NOT NULL CHECK (quantity >= 0),
    limit_per_user bigint NOT NULL,
    PRIMARY KEY (product_id, user_id),
    CONSTRAINT purchases_within_limit CHECK (quantity <= limit_per_user)
);

CREATE TABLE reservations (
    reservation_id    uuid        PRIMARY KEY,
    product_id        bigint      NOT NULL,
    user_id           bigint      NOT NULL CHECK (user_id > 0),
    quantity          bigint      NOT NULL CHECK (quantity > 0),
    unit_price_minor  bigint      NOT NULL CHECK (unit_price_minor >= 0),
    expires_at        timestamptz NOT NULL,
    idempotency_key   text        COLLATE "C",
    status            text        NOT NULL CHECK (status IN ('reserved', 'confirmed', 'cancelled', 'expired', 'paymentFailed', 'gateRollback')),
    reserved_position bigint      NOT NULL,
    ended_position    bigint,
    order_id          uuid,
    payment_ref       text,
    CHECK ((status = 'reserved') = (ended_position IS NULL)),
    CHECK ((status = 'confirmed') = (order_id IS NOT NULL))
);
-- Invariant 4: one idempotency key per user names one reservation (keyless ones need no entry).
CREATE UNIQUE INDEX reservations_idempotency ON reservations (user_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX reservations_due ON reservations (expires_at) WHERE status = 'reserved';
CREATE INDEX reservations_by_user ON reservations (user_id, reserved_position);
