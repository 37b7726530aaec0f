import Logging

/// Wraps a log handler (the service's: `StreamLogHandler`) and keeps the metadata set on a
/// logger as a plain dictionary, handing it over only when a message is written.
///
/// `StreamLogHandler` formats its whole metadata into a string on every change, and Hummingbird
/// gives every request's logger a request id: that formatting, for lines almost never written,
/// ran on every request of a flash sale.
public struct DeferredMetadataLogHandler<Wrapped: LogHandler>: LogHandler {
    private var wrapped: Wrapped
    public var metadata: Logger.Metadata = [:]

    public init(_ wrapped: Wrapped) {
        self.wrapped = wrapped
    }

    public var logLevel: Logger.Level {
        get { wrapped.logLevel }
        set { wrapped.logLevel = newValue }
    }

    public var metadataProvider: Logger.MetadataProvider? {
        get { wrapped.metadataProvider }
        set { wrapped.metadataProvider = newValue }
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    /// The message's own metadata wins over the logger's, as with any handler.
    public func log(event: LogEvent) {
        var event = event
        if !metadata.isEmpty {
            event.metadata = metadata.merging(event.metadata ?? [:]) { $1 }
        }
        wrapped.log(event: event)
    }
}
