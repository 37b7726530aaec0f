import Ledger
import Logging
import Synchronization
import Testing

/// Every line carries the metadata the logger had when it was written, the message's own
/// winning, with the wrapped handler's level and metadata provider.
@Suite struct DeferredMetadataLogHandlerTests {
    final class Lines: Sendable {
        let written = Mutex<[(message: String, metadata: Logger.Metadata)]>([])
    }

    /// Records what reaches the wrapped handler.
    struct RecordingHandler: LogHandler {
        let lines: Lines
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .info
        var metadataProvider: Logger.MetadataProvider?

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            var all = metadataProvider?.get() ?? [:]
            all.merge(metadata) { $1 }
            all.merge(event.metadata ?? [:]) { $1 }
            lines.written.withLock { $0.append((event.message.description, all)) }
        }
    }

    @Test func linesCarryTheLoggersMetadataWithTheMessagesOwnWinning() {
        let lines = Lines()
        var recording = RecordingHandler(lines: lines)
        recording.metadataProvider = .init { ["provided": "yes"] }
        var logger = Logger(label: "test") { _ in DeferredMetadataLogHandler(recording) }
        logger.logLevel = .notice
        logger[metadataKey: "request"] = "r-1"
        logger[metadataKey: "user"] = "7"
        var copy = logger
        copy[metadataKey: "request"] = "r-2"  // a copy's change stays in the copy
        logger.info("below the level")
        logger.notice("first", metadata: ["user": "8", "extra": "x"])
        copy.notice("second")
        logger[metadataKey: "user"] = nil
        logger.error("third")

        let written = lines.written.withLock { $0 }
        #expect(written.map(\.message) == ["first", "second", "third"])
        #expect(written[0].metadata == ["provided": "yes", "request": "r-1", "user": "8", "extra": "x"])
        #expect(written[1].metadata == ["provided": "yes", "request": "r-2", "user": "7"])
        #expect(written[2].metadata == ["provided": "yes", "request": "r-1"])
        #expect(logger[metadataKey: "request"] == "r-1" && copy.logLevel == .notice)
    }
}
