/// Every bound the service enforces, in one place. Each has a reason, not just a number.
public struct Limits: Sendable, Hashable {
    /// Idempotency keys: printable ASCII, at most this long (they become Redis keys and index entries).
    public var maxIdempotencyKeyBytes = 64
    /// Text the ledger stores, in UTF-8 bytes (`StoredText`): what a column or an index holds.
    public var maxProductNameBytes = 400
    public var maxPaymentRefBytes = 128
    /// Each metadata field an event carries (request id, actor …): printable ASCII, at most this.
    public var maxMetadataFieldBytes = 128
    /// Largest quantity one reservation may ask for, whatever the per-user limit says.
    public var maxQuantityPerReservation: Int64 = 1_000
    /// Largest stock a product may be listed with or given in one StockAdded.
    public var maxStockPerEvent: Int64 = 1_000_000_000
    public var maxReservationTTLSeconds: Int64 = 86_400

    /// Group commit: most commands in one transaction, and how long the first may wait for company.
    public var writerMaxBatchSize = 1_000
    public var writerBatchDelayMs = 2
    /// Batches in flight at once. One: on a box that PostgreSQL shares with the service, a second
    /// connection halves the batches and queues on the ledger head lock, so each reservation costs
    /// the database more CPU at a fixed rate for no more throughput (docs/performance.md).
    public var writerConnections = 1
    /// Commands waiting for the writer; past this, callers get a retriable `overloaded` error.
    public var writerMaxQueueDepth = 20_000
    /// Shedding by waiting time (`SojournShedder`, after CoDel): when for a whole interval every
    /// batch found its oldest command waiting longer than the target and left commands behind,
    /// commands that waited past the target are answered `overloaded` instead of committed
    /// late. A busy group-commit writer's commands wait about one commit (a few ms, tens in an
    /// fsync stall), so the target sits above that and the interval outlasts a stall.
    public var sheddingTargetMs = 50
    public var sheddingIntervalMs = 500
    /// Reservation attempts between the gate and the ledger's answer at once; past it, 503
    /// `overloaded` at once. A few batches' worth: at ~6,000 reservations/s on two cores, 256
    /// in flight wait ~40 ms, while the rest are refused before they cost a core.
    public var maxReservationAttemptsInFlight = 256
    /// The cap adapts below that (`InFlightLimit`) while even the fastest ledger answer of a
    /// window took longer than the target: an overload's refusals and clients take cores, the
    /// box clears less, and the same 256 would wait twice as long. A batch commits in about
    /// 10 ms on two cores, so an attempt that waits one batch and runs in the next stays under
    /// the target; the floor keeps a few batches' worth admitted whatever happens.
    public var reservationAttemptTargetMs = 20
    public var reservationAttemptWindowMs = 100
    public var minReservationAttemptsInFlight = 32
    /// A batch decides without locking a product's inventory row while at least this many units
    /// would stay available after it; the row's CHECK still refuses an oversell, and the batch is
    /// then decided again under the lock. Below it (the end of a sale) batches lock and serialise.
    public var writerUnlockedStockHeadroomUnits: Int64 = 10_000
    /// A batch a guard refused is decided again under the inventory locks up to this many times
    /// before each of its commands is decided alone.
    public var writerLockedRetries = 3

    /// Expiry worker: how many expired reservations it reverts per pass, and how often it looks.
    public var expiryBatchSize = 500
    public var expiryIntervalMs = 1_000

    /// Largest page of events or reservations one read returns, and the page without `limit`.
    public var maxPageSize = 1_000
    public var defaultPageSize = 100

    /// HTTP: largest request body, and how long product config is cached in-process (plus up to
    /// the jitter, so instances do not reload in step).
    public var maxBodyBytes = 4_096
    public var productCacheTTLMs = 1_000
    public var productCacheJitterMs = 250
    /// Products the cache holds at most, and of them how many "no such product" answers: any
    /// client may ask for any id, so neither may grow with what clients ask.
    public var productCacheMaxEntries = 10_000
    public var productCacheMaxUnknownEntries = 1_000
    /// A gate refusal is checked against the ledger (`LedgerStockCheck`): how old that reading
    /// may be (one per product per interval and node), and how long after its recording an event
    /// must be in the gate's copy before a copy without it counts as behind (projection normally
    /// takes milliseconds).
    public var gateRefusalRecheckMs = 100
    public var gateSettleMs = 500
    /// A gate tentative this old belongs to an attempt that is gone (the writer answers within
    /// `postgresAnswerTimeoutMs`): its units count as the gate's copy being behind.
    public var gateLostTentativeMs = 4_000
    /// At most this many of a product's tentatives are summed when a refusal is checked; past
    /// it their units count as unknown (the check then rests on positions alone).
    public var gateHoldingsMaxTentatives = 10_000
    /// Longest a request's PostgreSQL call (the writer's batch phases, the API's reads, `/ready`)
    /// waits for an answer, and its connection for a (re)connect (libpq's `connect_timeout`,
    /// whole seconds, at least 2). A frozen database then costs a request at most about the
    /// two, answered 503 `unavailable` (a commit whose answer never came is unknown: retry with
    /// the same Idempotency-Key). Far above a batch's usual few milliseconds and a slow disk's
    /// fsync stall (~0.5 s).
    public var postgresAnswerTimeoutMs = 3_000
    public var postgresConnectTimeoutSeconds = 2
    /// Reads waiting for the API's reader connection; past this, a retriable `overloaded`.
    public var readerMaxQueueDepth = 1_000
    /// HTTP connections open at once (past it, new ones wait in the kernel's backlog), and how
    /// long one may stay open without a request arriving. Reaching the cap closes the
    /// connections idle the longest, this many at a time, so new clients wait only while every
    /// open connection is busy.
    public var httpMaxConnections = 10_000
    public var httpIdleTimeoutMs = 30_000
    public var httpIdleConnectionsClosedAtCap = 64
    /// Largest `Authorization` header taken (a JWT of ours is ~200 bytes), longest lifetime
    /// `ledger token` issues.
    public var maxBearerTokenBytes = 2_048
    public var maxTokenTTLSeconds = 7 * 86_400
    /// How old an answer of `/ready` may be: its dependency checks run at most this often.
    public var readinessCacheMs = 1_000
    /// A warning that repeats (a dependency down: every request and batch fails alike) is
    /// logged at most this often, with the count of repeats left out.
    public var repeatedWarningIntervalMs = 1_000
    /// How long `/ready` waits for the Kafka brokers' metadata before calling them unavailable.
    public var readinessKafkaTimeoutMs: Int32 = 2_000
    /// Verified tokens remembered (so a repeated token skips the signature check).
    public var verifiedTokensCached = 200_000
    /// Writes per user (reserve, confirm, cancel share one budget): a steady rate and a burst.
    public var seckillAttemptsPerUserPerSecond = 10.0
    public var seckillAttemptBurst = 20
    /// Admin writes (listings, stock) per admin, their own budget.
    public var adminWritesPerSecond = 50.0
    public var adminWriteBurst = 100
    /// Reads without a login, per client address; a logged-in user's reads that miss the
    /// product cache (each one a ledger read), per user.
    public var readsPerClientPerSecond = 50.0
    public var readBurst = 100
    /// Users (or client addresses) one rate limiter tracks at once.
    public var rateLimitedUsersTracked = 200_000

    /// PostgreSQL: statements one connection keeps prepared (each keeps its parsed form in the
    /// backend); statements beyond it are parsed again every time they run.
    public var postgresMaxPreparedStatementsPerConnection = 64

    /// Redis gate: connections shared by all requests, longest pipeline one round trip carries,
    /// and calls waiting for a connection before callers get a retriable `overloaded`.
    public var gateConnections = 2
    public var gateMaxPipelineLength = 512
    public var gateMaxQueueDepth = 20_000
    /// Longest a Redis call on the request path (the gate, a product's live availability,
    /// `/ready`) may wait for a frozen or vanished Redis, connecting included; the request then
    /// goes on without Redis.
    public var redisRequestTimeoutMs = 1_000
    /// The gate's circuit breaker: this many failed or timed-out gate calls within the window
    /// open it; while open, reservations go to the ledger alone (its guard tables decide) and
    /// Redis is probed again after `gateBreakerOpenMs` (by the read-model check, so that it never
    /// closes on a Redis that lost the model). At most `maxDegradedReservationsInFlight` such
    /// reservations wait for the ledger at once (past it, 503 `overloaded`), so that the losing
    /// 99 % do not all reach PostgreSQL together.
    public var gateBreakerFailureThreshold = 5
    public var gateBreakerWindowMs = 1_000
    public var gateBreakerOpenMs = 500
    public var maxDegradedReservationsInFlight = 64
    /// How often each node checks that Redis still holds the read model (a Redis restarted
    /// without persistence comes back empty, and the model is then rebuilt from the ledger);
    /// the same check probes an open breaker.
    public var readModelCheckIntervalMs = 500
    /// How stale the gate's idea of the live read-model generation may be (replay switches it).
    public var generationRefreshMs = 500

    /// Relay: events per produce round, how soon after a round that was not full the next may
    /// start (events gather meanwhile), how long delivered events may stay out of the stored checkpoint (what a crash
    /// republishes), how long it sleeps without a NOTIFY, back-off after a failure, and how
    /// often it compares the topic's watermarks with its checkpoint.
    public var relayBatchSize = 2_000
    public var relayMinRoundIntervalMs = 25
    public var relayCheckpointIntervalMs = 200
    public var relayPollIntervalMs = 500
    public var relayRetryDelayMs = 1_000
    public var relayResetCheckIntervalMs = 10_000
    /// Relay leadership (one publisher among the nodes): how often a standby tries the lock and
    /// a leader checks that its session still holds it. A take-over follows the end of the
    /// leader's session within about this.
    public var relayLeadershipPollMs = 1_000
    /// TCP keepalives on the leader's session, so that PostgreSQL ends the session of a host
    /// that vanished (freeing the lock) after about idle + interval × count seconds.
    public var relayLeaderKeepaliveIdleSeconds = 2
    public var relayLeaderKeepaliveIntervalSeconds = 1
    public var relayLeaderKeepaliveCount = 2

    /// Projector: messages applied to Redis in one pipeline, and at most how many events of a
    /// product one script call applies (Redis runs nothing else while a script runs).
    public var projectorBatchSize = 1_000
    public var projectorEventsPerScriptCall = 64
    public var projectorRetryDelayMs = 500
    /// How long the consumer group waits for a silent projector before handing its partitions
    /// to the others (6 s is the least a Kafka broker accepts by default). A projector that was
    /// dropped (brokers frozen or unreachable past it) rejoins by itself; the rejoin can take
    /// up to three of these, while the coordinator expires a member a dead connection left behind.
    public var projectorSessionTimeoutMs = 6_000

    /// Reconciler: a tentative older than this with no ledger event is rolled back. Longer than
    /// any request can take from the gate to the commit, so it never races a live request.
    public var reconcilerTentativeAgeMs: Int64 = 30_000
    public var reconcilerIntervalMs = 5_000
    public var reconcilerBatchSize = 1_000

    /// Waits on Kafka and Redis outside the request path: a metadata or offset query, creating a
    /// topic, delivering what a producer still holds when it closes, connecting to Redis.
    public var kafkaRequestTimeoutMs: Int32 = 5_000
    public var kafkaCreateTopicTimeoutMs: Int32 = 10_000
    public var kafkaFlushTimeoutMs: Int32 = 10_000
    public var redisConnectTimeoutMs = 5_000

    /// Audit: messages one poll of the topic returns, how long reading the whole topic may take,
    /// and how long it waits for Redis to reach the ledger's position before comparing.
    public var auditPollMessages = 10_000
    public var auditTopicTimeoutMs = 60_000
    public var auditProjectionWaitMs = 10_000

    /// librdkafka's mock cluster (`ledger kafka-dev`, or in-process when no brokers are given):
    /// brokers, and partitions of the topics it creates up front.
    public var devKafkaBrokers: Int32 = 3
    public var devTopicPartitions: Int32 = 6

    /// Replay: events per ledger page, commands per Redis pipeline, and how long it waits after
    /// switching generations before the final catch-up (longer than `generationRefreshMs`).
    public var replayPageSize = 20_000
    public var replayPipelineLength = 1_000
    /// Redis arguments one replay pipeline carries at most (a few products' whole user lists).
    public var replayPipelineArguments = 65_536
    public var replaySwitchGraceMs = 600
    /// A replay's lock lapses this long after it was last renewed (every `replayLockRenewMs`
    /// and at each step), so that a replay that died frees it soon for another node's rebuild.
    public var replayLockSeconds = 15
    public var replayLockRenewMs = 3_000
    /// How long one replay pipeline may take in Redis (a big product's whole model is one).
    public var replayRedisTimeoutMs = 60_000

    public init() {}
}
