import API
import Ledger
import Projections
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct ReadinessProbeTests {
    @Test func reportsReadyWhenAllAnswerAndNamesTheOneThatDoesNot() async throws {
        let postgres = try await PostgresConnection.connect(url: try TestServices.databaseURL())
        let redis = try await RedisConnection.connect(url: try TestServices.redisURL())
        let kafka = try await KafkaAdmin.connect(configuration: KafkaConfiguration(brokers: try TestServices.kafkaBrokers()))
        let probe = ReadinessProbe(postgres: postgres, redis: redis, kafka: kafka, kafkaTopic: "ledger.events")
        let healthy = await probe.check()
        #expect(healthy.isReady, "\(healthy.failures)")

        await redis.close()
        let report = await probe.check()
        #expect(!report.isReady)
        #expect(Array(report.failures.keys) == ["redis"])
        await kafka.close()
        await postgres.close()
    }
}
