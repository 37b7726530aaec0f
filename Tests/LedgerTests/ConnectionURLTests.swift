import Ledger
import Testing

/// Connection strings in logs and errors never show a password, in any form libpq or Redis takes.
@Suite struct ConnectionURLTests {
    @Test func everyFormOfPasswordIsMasked() {
        let cases = [
            ("postgresql://ledger:s3cr3t@db:5432/x", "postgresql://ledger:***@db:5432/x"),
            ("redis://:s3cr3t@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
            ("postgresql://ledger@db/x?sslmode=require&password=s3cr3t", "postgresql://ledger@db/x?sslmode=require&password=***"),
            ("postgresql://db/x?PASSWORD=s3cr3t&user=ledger", "postgresql://db/x?password=***&user=ledger"),
            ("host=db user=ledger password=s3cr3t dbname=x", "host=db user=ledger password=*** dbname=x"),
            ("host=db password = 's3 cr\\'3t' dbname=x", "host=db password = *** dbname=x"),
            ("postgresql://ledger@db:5432/x", "postgresql://ledger@db:5432/x"),
        ]
        for (url, redacted) in cases {
            #expect(ConnectionURL.redacted(url) == redacted)
            #expect(!ConnectionURL.redacted(url).contains("s3"), "\(url)")
        }
    }

    @Test func aConnectTimeoutIsAddedUnlessTheOperatorSetOne() {
        #expect(ConnectionURL.withConnectTimeout("postgresql://ledger@db/x", seconds: 2) == "postgresql://ledger@db/x?connect_timeout=2")
        #expect(ConnectionURL.withConnectTimeout("postgresql://db/x?sslmode=require", seconds: 2) == "postgresql://db/x?sslmode=require&connect_timeout=2")
        #expect(ConnectionURL.withConnectTimeout("host=db dbname=x", seconds: 3) == "host=db dbname=x connect_timeout=3")
        #expect(ConnectionURL.withConnectTimeout("postgresql://db/x?connect_timeout=10", seconds: 2) == "postgresql://db/x?connect_timeout=10")
    }
}
