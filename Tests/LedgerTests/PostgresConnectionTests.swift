import Ledger
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct PostgresConnectionTests {
    @Test func parametersRoundTripIncludingNullAndArrays() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL())
        let bytes: [UInt8] = [0, 1, 2, 0x7f, 0x80, 0xff, 0]
        let text = "quote \" backslash \\ comma , brace { ünïcødé 🛒"
        let rows = try await connection.query(
            "SELECT $1::text AS n, $2::text AS t, $3::int8 AS lo, $4::int8 AS hi, $5::bool AS b, $6::bytea AS raw, $7::int8[] AS ints, $8::text[] AS texts, $9::jsonb AS doc, "
                + "$10::int8[] AS no_ints, $11::text[] AS no_texts, cardinality($12::int8[]) AS many",
            [
                .null, .text(text), .int64(.min), .int64(.max), .bool(true), .bytea(bytes),
                .int64Array([1, nil, -3, .min, .max]), .textArray(["a,b", nil, "NULL", "x\"y\\z", "", "{}", text]),
                .jsonb(#"{"k": [1, 2]}"#), .int64Array([]), .textArray([]), .int64Array((1...5_000).map { $0 }),
            ])
        let row = rows[0]
        #expect(row["n"].isNull)
        #expect(try row["t"].string() == text)
        #expect(try row["lo"].int64() == .min)
        #expect(try row["hi"].int64() == .max)
        #expect(try row["b"].bool() == true)
        #expect(try row["raw"].bytea() == bytes)
        #expect(try row["ints"].int64Array() == [1, nil, -3, .min, .max])
        #expect(try row["texts"].stringArray() == ["a,b", nil, "NULL", "x\"y\\z", "", "{}", text])
        #expect(try row["no_ints"].int64Array() == [])
        #expect(try row["no_texts"].stringArray() == [])
        #expect(try row["many"].int64() == 5_000)
        #expect(try row["doc"].string() == #"{"k": [1, 2]}"#)
        await connection.close()
    }

    @Test func arrayParametersFeedBatchInsertsThroughUnnest() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL())
        let table = TestServices.uniqueName("batch")
        try await connection.query("CREATE TEMP TABLE \(table) (id int8 PRIMARY KEY, label text)")
        let ids = (1...1_000).map { Int64($0) }
        let inserted = try await connection.query(
            "INSERT INTO \(table) (id, label) SELECT * FROM unnest($1::int8[], $2::text[])",
            [.int64Array(ids), .textArray(ids.map { "item \($0)" })])
        #expect(inserted.affectedRows == 1_000)
        let sum = try await connection.query("SELECT sum(id)::int8 AS s, max(label) AS m FROM \(table)")[0]
        #expect(try sum["s"].int64() == 500_500)
        #expect(try sum["m"].string() == "item 999")
        await connection.close()
    }

    @Test func uniqueViolationCarriesSQLStateAndTheConnectionStaysUsable() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL())
        let table = TestServices.uniqueName("uniq")
        try await connection.query("CREATE TEMP TABLE \(table) (key text PRIMARY KEY)")
        try await connection.query("INSERT INTO \(table) VALUES ($1)", ["k"])
        let error = await #expect(throws: PostgresError.self) {
            try await connection.query("INSERT INTO \(table) VALUES ($1)", ["k"])
        }
        #expect(error?.sqlState == "23505")
        #expect(error?.isUniqueViolation == true)
        #expect(error?.isRetriable == false)
        #expect(error?.constraint == "\(table)_pkey")
        #expect(try await connection.query("SELECT count(*) AS c FROM \(table)")[0]["c"].int64() == 1)
        await connection.close()
    }

    @Test func transactionRollsBackWhenTheBodyThrows() async throws {
        struct Abort: Error {}
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL())
        let table = TestServices.uniqueName("tx")
        try await connection.query("CREATE TEMP TABLE \(table) (v int8)")
        await #expect(throws: Abort.self) {
            try await connection.transaction { session in
                try session.query("INSERT INTO \(table) VALUES (1)")
                throw Abort()
            }
        }
        try await connection.transaction { session in
            try session.query("INSERT INTO \(table) VALUES (2)")
            // A failed statement under a savepoint leaves the rest of the transaction intact.
            _ = try? session.savepoint { try $0.query("INSERT INTO \(table) VALUES ('not a number')") }
            try session.query("INSERT INTO \(table) VALUES (3)")
        }
        let values = try await connection.query("SELECT v FROM \(table) ORDER BY v").map { try $0["v"].int64() }
        #expect(values == [2, 3])
        await connection.close()
    }

    @Test func notifySentOnOneConnectionArrivesOnAnother() async throws {
        let url = try TestServices.databaseURL()
        let listener = try await PostgresConnection.connect(url: url, name: "listener")
        let sender = try await PostgresConnection.connect(url: url, name: "sender")
        let channel = TestServices.uniqueName("chan")
        try await listener.listen(channel)
        try await sender.query("SELECT pg_notify($1, $2)", [.text(channel), "first"])
        try await sender.query("SELECT pg_notify($1, $2)", [.text(channel), "second"])
        var received: [String] = []
        for try await notification in listener.notifications {
            #expect(notification.channel == channel)
            received.append(notification.payload)
            if received.count == 2 { break }
        }
        #expect(received == ["first", "second"])
        await listener.close()
        await sender.close()
    }

    @Test func errorsNeverShowThePassword() async throws {
        let error = await #expect(throws: PostgresError.self) {
            _ = try await PostgresConnection.connect(url: "postgresql://ledger:s3cr3t-pw@127.0.0.1:1/ledger?connect_timeout=2")
        }
        #expect(error?.code == .connectionFailed)
        #expect(error?.isRetriable == true)
        #expect(!String(describing: error).contains("s3cr3t-pw"))
        #expect(ConnectionURL.redacted("postgresql://ledger:s3cr3t-pw@db:5432/x") == "postgresql://ledger:***@db:5432/x")
    }

    @Test func closedConnectionThrowsClosed() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL())
        await connection.close()
        let error = await #expect(throws: PostgresError.self) { try await connection.query("SELECT 1") }
        #expect(error?.code == .closed)
    }

    @Test func statementsWithParametersArePreparedOncePerSessionUpToTheLimit() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL(), maxPreparedStatements: 3)
        #expect(try await connection.query("SHOW plan_cache_mode")[0][0].string() == "force_custom_plan")
        // Without parameters a statement runs unnamed, so this count never counts itself.
        let preparedCount = "SELECT count(*)::int8 AS n FROM pg_prepared_statements"
        for value in Int64(1)...3 {
            #expect(try await connection.query("SELECT $1::int8 + 1 AS v", [.int64(value)])[0]["v"].int64() == value + 1)
        }
        #expect(try await connection.query(preparedCount)[0]["n"].int64() == 1)
        // The same text with other parameter types is another statement, not the first one's plan.
        let typeOf = "SELECT pg_typeof($1)::text AS t"
        #expect(try await connection.query(typeOf, [.int64(7)])[0]["t"].string() == "bigint")
        #expect(try await connection.query(typeOf, [.text("x")])[0]["t"].string() == "text")
        #expect(try await connection.query(preparedCount)[0]["n"].int64() == 3)
        // Past the limit statements still run, planned each time.
        #expect(try await connection.query("SELECT $1::int8 * 2 AS v", [.int64(21)])[0]["v"].int64() == 42)
        #expect(try await connection.query(preparedCount)[0]["n"].int64() == 3)
        // A statement that does not parse is not remembered; the connection stays usable.
        await #expect(throws: PostgresError.self) { try await connection.query("SELEC $1::int8", [.int64(1)]) }
        #expect(try await connection.query("SELECT $1::int8 + 1 AS v", [.int64(9)])[0]["v"].int64() == 10)
        await connection.close()
    }

    @Test func statementsArePreparedAgainOnTheSessionAfterAReconnect() async throws {
        let url = try TestServices.databaseURL()
        let connection = try await PostgresConnection.connect(url: url)
        let admin = try await PostgresConnection.connect(url: url)
        let statement = "SELECT pg_backend_pid()::int8 AS pid, $1::int8 AS v"
        let firstPid = try await connection.query(statement, [.int64(1)])[0]["pid"].int64()
        try await admin.query("SELECT pg_terminate_backend($1::int)", [.int64(firstPid)])
        for _ in 0..<100 {
            let alive = try await admin.query("SELECT count(*)::int8 AS n FROM pg_stat_activity WHERE pid = $1::int", [.int64(firstPid)])
            if try alive[0]["n"].int64() == 0 { break }
            try await Task.sleep(for: .milliseconds(20))
        }
        // The first statement may still find the old socket (a retriable connectionLost); then one
        // runs on a new session, which has none of the old one's statements to reuse by name.
        var row: PostgresRow?
        for _ in 0..<2 where row == nil {
            do {
                row = try await connection.query(statement, [.int64(2)])[0]
            } catch let error as PostgresError where error.code == .connectionLost {}
        }
        #expect(try row?["pid"].int64() != firstPid)
        #expect(try row?["v"].int64() == 2)
        #expect(try await connection.query("SHOW plan_cache_mode")[0][0].string() == "force_custom_plan")
        await connection.close()
        await admin.close()
    }

    @Test func aPipelineRunsItsStatementsInOrderAndReturnsEachOnesRows() async throws {
        let url = try TestServices.databaseURL()
        let connection = try await PostgresConnection.connect(url: url)
        let other = try await PostgresConnection.connect(url: url)
        let table = TestServices.uniqueName("pipe")
        try await connection.query("CREATE TABLE \(table) (id int8 PRIMARY KEY, label text)")
        let results = try await connection.withSession { session in
            try session.pipeline([
                PostgresStatement("BEGIN"),
                PostgresStatement("INSERT INTO \(table) SELECT * FROM unnest($1::int8[], $2::text[])", [.int64Array([1, 2, 3]), .textArray(["a", "b", "c"])]),
                // Sees the row the statement before it inserted: they run in order.
                PostgresStatement("UPDATE \(table) SET label = label || $1 WHERE id >= $2", [.text("!"), .int64(2)]),
                PostgresStatement("SELECT id, label FROM \(table) WHERE id = ANY($1::int8[]) ORDER BY id", [.int64Array([1, 3])]),
                PostgresStatement("COMMIT"),
            ])
        }
        #expect(results.map(\.commandTag) == ["BEGIN", "INSERT 0 3", "UPDATE 2", "SELECT 2", "COMMIT"])
        #expect(results[2].affectedRows == 2)
        #expect(try results[3].map { try $0["label"].string() } == ["a", "c!"])
        #expect(try await other.query("SELECT count(*)::int8 AS n FROM \(table) WHERE label LIKE '%!'")[0]["n"].int64() == 2)
        // The connection left pipeline mode: plain statements run on it again.
        #expect(try await connection.query("SELECT $1::int8 AS v", [.int64(7)])[0]["v"].int64() == 7)
        try await connection.query("DROP TABLE \(table)")
        await connection.close()
        await other.close()
    }

    @Test func aFailingStatementInAPipelineIsThrownAndTheRestIsSkipped() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL())
        let table = TestServices.uniqueName("pipefail")
        try await connection.query("CREATE TEMP TABLE \(table) (id int8 PRIMARY KEY)")
        let error = await #expect(throws: PostgresError.self) {
            try await connection.withSession { session in
                try session.pipeline([
                    PostgresStatement("INSERT INTO \(table) VALUES ($1)", [.int64(1)]),
                    PostgresStatement("INSERT INTO \(table) VALUES ($1), ($1)", [.int64(2)]),
                    PostgresStatement("INSERT INTO \(table) VALUES ($1)", [.int64(3)]),
                ])
            }
        }
        #expect(error?.sqlState == "23505")
        // Without BEGIN the statements up to the sync are one implicit transaction: the failure
        // undid the first insert, and the third never ran.
        #expect(try await connection.query("SELECT count(*)::int8 AS n FROM \(table)")[0]["n"].int64() == 0)
        await connection.close()
    }

    @Test func aConnectionLostInAPipelineThrowsConnectionLostAndTheNextStatementReconnects() async throws {
        let connection = try await PostgresConnection.connect(url: try TestServices.databaseURL())
        let firstPid = try await connection.query("SELECT pg_backend_pid()::int8 AS pid")[0]["pid"].int64()
        let error = await #expect(throws: PostgresError.self) {
            try await connection.withSession { session in
                try session.pipeline([
                    PostgresStatement("SELECT $1::int8", [.int64(1)]),
                    PostgresStatement("SELECT pg_terminate_backend(pg_backend_pid())"),
                    PostgresStatement("SELECT $1::int8", [.int64(2)]),
                ])
            }
        }
        #expect(error?.code == .connectionLost)
        #expect(error?.isRetriable == true)
        let pid = try await connection.query("SELECT pg_backend_pid()::int8 AS pid")[0]["pid"].int64()
        #expect(pid != firstPid)
        await connection.close()
    }
}
