import Foundation
import Projections
import TestSupport
import Testing

@Suite(.timeLimit(.minutes(3))) struct KafkaClientTests {
    /// Collects messages until `count` arrived or `timeout` passed.
    private func consume(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(60)) async throws -> [KafkaMessage] {
        let deadline = ContinuousClock.now + timeout
        var messages = [KafkaMessage]()
        while messages.count < count, ContinuousClock.now < deadline {
            if let message = try await consumer.poll(timeoutMs: 200) { messages.append(message) }
        }
        return messages
    }

    /// A fresh mock cluster whose one-partition topic `orders` is led by `leader`.
    private func clusterWithOrdersLedBy(_ leader: Int32) async throws -> KafkaMockCluster {
        let cluster = try await KafkaMockCluster.start(brokers: 3)
        try await cluster.createTopic("orders", partitions: 1, replicationFactor: 3)
        try await cluster.setPartitionLeader(topic: "orders", partition: 0, brokerID: leader)
        return cluster
    }

    @Test func tenThousandKeyedMessagesComeBackInPerPartitionOrder() async throws {
        let configuration = KafkaConfiguration(brokers: try TestServices.kafkaBrokers())
        let topic = TestServices.uniqueName("roundtrip")
        let producer = try KafkaProducer(configuration: configuration)
        let keys = 50
        let perKey = 200
        // One task per key sends its messages one after another, so per-key send order is known.
        let reports = try await withThrowingTaskGroup(of: (Int, [KafkaDeliveryReport]).self) { group in
            for key in 0..<keys {
                group.addTask {
                    var reports = [KafkaDeliveryReport]()
                    for sequence in 0..<perKey {
                        reports.append(try await producer.send(KafkaOutgoingMessage(
                            topic: topic, key: Array("key-\(key)".utf8), value: Array("\(key):\(sequence)".utf8),
                            headers: [("sequence", Array(String(sequence).utf8))])))
                    }
                    return (key, reports)
                }
            }
            return try await group.reduce(into: [Int: [KafkaDeliveryReport]]()) { $0[$1.0] = $1.1 }
        }
        for (key, keyReports) in reports {
            #expect(Set(keyReports.map(\.partition)).count == 1, "key \(key) stayed on one partition")
            #expect(keyReports.map(\.offset) == keyReports.map(\.offset).sorted(), "key \(key) offsets increase")
        }

        let consumer = try await KafkaConsumer.connect(configuration: configuration, groupID: TestServices.uniqueName("group"))
        try await consumer.subscribe(topics: [topic])
        let messages = try await consume(consumer, count: keys * perKey)
        #expect(messages.count == keys * perKey)
        var byKey = [String: [Int]]()
        var lastOffset = [Int32: Int64]()
        for message in messages {
            let parts = String(decoding: message.value, as: UTF8.self).split(separator: ":")
            #expect(String(decoding: message.key ?? [], as: UTF8.self) == "key-\(parts[0])")
            #expect(message.header("sequence") == Array(parts[1].utf8))
            byKey["\(parts[0])", default: []].append(Int(parts[1])!)
            #expect(message.offset > lastOffset[message.partition, default: -1], "partition offsets only grow")
            lastOffset[message.partition] = message.offset
        }
        #expect(byKey.count == keys)
        #expect(byKey.values.allSatisfy { $0 == Array(0..<perKey) }, "every key arrives complete and in send order")
        await consumer.close()
        await producer.close()
    }

    @Test func committedOffsetsAreWhereTheGroupResumes() async throws {
        let configuration = KafkaConfiguration(brokers: try TestServices.kafkaBrokers(), ["session.timeout.ms": "6000"])
        let topic = TestServices.uniqueName("commit")
        let group = TestServices.uniqueName("group")
        let producer = try KafkaProducer(configuration: configuration)
        for index in 0..<10 {
            try await producer.send(KafkaOutgoingMessage(topic: topic, key: Array("same".utf8), value: Array("\(index)".utf8)))
        }
        await producer.close()

        let first = try await KafkaConsumer.connect(configuration: configuration, groupID: group)
        try await first.subscribe(topics: [topic])
        let firstFour = try await consume(first, count: 4)
        #expect(firstFour.map { String(decoding: $0.value, as: UTF8.self) } == ["0", "1", "2", "3"])
        try await first.commit(firstFour[3])
        await first.close()

        let second = try await KafkaConsumer.connect(configuration: configuration, groupID: group)
        try await second.subscribe(topics: [topic])
        let rest = try await consume(second, count: 6)
        #expect(rest.map { String(decoding: $0.value, as: UTF8.self) } == ["4", "5", "6", "7", "8", "9"])
        await second.close()
    }

    /// The producer packs the topic and every header's name and value into one buffer for
    /// librdkafka: each must come back exactly, whatever its length, including empty and binary
    /// values, a name that is not ASCII, and a message without a key.
    @Test func headersAndKeysComeBackExactly() async throws {
        let configuration = KafkaConfiguration(brokers: try TestServices.kafkaBrokers())
        let topic = TestServices.uniqueName("headers")
        let producer = try KafkaProducer(configuration: configuration)
        let headers: [(name: String, value: [UInt8])] = [
            ("type", Array("StockReserved".utf8)), ("empty", []), ("binary", [0, 0xFF, 0x0A, 0]),
            ("größe", Array(repeating: 0x61, count: 3_000)), ("", [7]), ("type", Array("again".utf8)),
        ]
        try await producer.send(KafkaOutgoingMessage(topic: topic, key: nil, value: Array("unkeyed".utf8), headers: headers))
        try await producer.send(KafkaOutgoingMessage(topic: topic, key: [0, 1, 2], value: [], headers: []))
        await producer.close()

        let consumer = try await KafkaConsumer.connect(configuration: configuration, groupID: TestServices.uniqueName("group"))
        try await consumer.subscribe(topics: [topic])
        let messages = try await consume(consumer, count: 2)
        await consumer.close()
        try #require(messages.count == 2)
        // The two may land on different partitions, so they are told apart by key, not by offset.
        let unkeyed = try #require(messages.first { $0.key == nil })
        let keyed = try #require(messages.first { $0.key != nil })
        #expect(unkeyed.value == Array("unkeyed".utf8))
        #expect(unkeyed.headers.map(\.name) == headers.map(\.name))
        #expect(unkeyed.headers.map(\.value) == headers.map(\.value))
        #expect(keyed.key == [0, 1, 2])
        #expect(keyed.value.isEmpty)
        #expect(keyed.headers.isEmpty)
    }

    @Test func theDevelopmentBrokerIsReadableByKcat() async throws {
        let brokers = try TestServices.kafkaBrokers()
        let topic = TestServices.uniqueName("kcat")
        let producer = try KafkaProducer(configuration: KafkaConfiguration(brokers: brokers))
        for index in 1...3 {
            try await producer.send(KafkaOutgoingMessage(
                topic: topic, key: Array("k\(index)".utf8), value: Array("v\(index)".utf8), headers: [("type", Array("T\(index)".utf8))]))
        }
        await producer.close()
        let result = try await TestServices.run("kcat", ["-b", brokers, "-C", "-t", topic, "-o", "beginning", "-e", "-q", "-f", "%k=%s %h\n"])
        #expect(result.status == 0)
        let lines = result.output.split(separator: "\n").map(String.init).sorted()
        #expect(lines == ["k1=v1 type=T1", "k2=v2 type=T2", "k3=v3 type=T3"])
    }

    @Test func mockClusterCreatesTopicsWithTheRequestedPartitions() async throws {
        let cluster = try await KafkaMockCluster.start(brokers: 3)
        let configuration = KafkaConfiguration(brokers: cluster.bootstrapServers)
        try await cluster.createTopic("events", partitions: 5, replicationFactor: 3)
        let admin = try await KafkaAdmin.connect(configuration: configuration)
        #expect(try await admin.partitionCount("events") == 5)
        #expect(try await admin.partitionCount("never-created-\(UInt32.random(in: 0...UInt32.max))") == nil)
        let producer = try KafkaProducer(configuration: configuration)
        for _ in 0..<7 {
            try await producer.send(KafkaOutgoingMessage(topic: "events", key: Array("k".utf8), value: [1]))
        }
        let partition = try await producer.send(KafkaOutgoingMessage(topic: "events", key: Array("k".utf8), value: [2])).partition
        #expect(try await admin.watermarks(topic: "events", partition: partition) == (0, 8))
        await producer.close()
        await admin.close()
        await cluster.stop()
    }

    @Test func sendsWaitWhileTheLeaderIsDownAndCompleteWhenItReturns() async throws {
        let cluster = try await clusterWithOrdersLedBy(1)
        let producer = try KafkaProducer(configuration: KafkaConfiguration(brokers: cluster.bootstrapServers, ["message.timeout.ms": "30000"]))
        try await producer.send(KafkaOutgoingMessage(topic: "orders", key: Array("k".utf8), value: Array("before".utf8)))

        try await cluster.setBrokerDown(1)
        let clock = ContinuousClock()
        let start = clock.now
        async let delivered = withThrowingTaskGroup(of: KafkaDeliveryReport.self) { group in
            for index in 0..<20 {
                group.addTask {
                    try await producer.send(KafkaOutgoingMessage(topic: "orders", key: Array("k".utf8), value: Array("during-\(index)".utf8)))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
        try await Task.sleep(for: .milliseconds(1_500))
        try await cluster.setBrokerUp(1)
        let reports = try await delivered
        #expect(clock.now - start >= .milliseconds(1_500), "sends waited for the broker")
        #expect(reports.count == 20)
        #expect(Set(reports.map(\.offset)) == Set(1...20), "nothing lost, nothing duplicated")

        let consumer = try await KafkaConsumer.connect(configuration: KafkaConfiguration(brokers: cluster.bootstrapServers), groupID: "check")
        try await consumer.subscribe(topics: ["orders"])
        let messages = try await consume(consumer, count: 21)
        #expect(messages.map(\.offset) == Array(0...20))
        await consumer.close()
        await producer.close()
        await cluster.stop()
    }

    @Test func sendsFailRetriablyAfterTheirTimeoutAndSucceedOnceTheBrokerIsBack() async throws {
        let cluster = try await clusterWithOrdersLedBy(2)
        let producer = try KafkaProducer(configuration: KafkaConfiguration(brokers: cluster.bootstrapServers, ["message.timeout.ms": "1500"]))
        try await producer.send(KafkaOutgoingMessage(topic: "orders", key: nil, value: Array("warm-up".utf8)))
        try await cluster.setBrokerDown(2)
        let error = await #expect(throws: KafkaError.self) {
            try await producer.send(KafkaOutgoingMessage(topic: "orders", key: nil, value: Array("lost?".utf8)))
        }
        #expect(error?.isRetriable == true, "\(String(describing: error))")
        try await cluster.setBrokerUp(2)
        // The error said "retry": doing so succeeds once the producer has reconnected.
        var report: KafkaDeliveryReport?
        for _ in 0..<10 where report == nil {
            report = try? await producer.send(KafkaOutgoingMessage(topic: "orders", key: nil, value: Array("after".utf8)))
        }
        #expect(report?.partition == 0)
        await producer.close()
        await cluster.stop()
    }
}
