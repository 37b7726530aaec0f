import Foundation
import Hummingbird
import Ledger

/// `application/json` responses.
enum JSONResponse {
    static func make(_ status: HTTPResponse.Status, _ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return make(status, bytes: Array(try encoder.encode(value)))
    }

    static func make(_ status: HTTPResponse.Status, bytes: [UInt8]) -> Response {
        Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    /// A page of recorded events: `{"items":[…],"next":N|null}`, each item the event's own JSON.
    static func events(_ events: [RecordedEvent], limit: Int) -> Response {
        var body = Array(#"{"items":["#.utf8)
        for (index, event) in events.enumerated() {
            if index > 0 { body.append(UInt8(ascii: ",")) }
            body += event.json
        }
        body += #"],"next":"#.utf8
        body += (events.count == limit ? events.last.map { String($0.position) } : nil).map { Array($0.utf8) } ?? Array("null".utf8)
        body.append(UInt8(ascii: "}"))
        return make(.ok, bytes: body)
    }
}
