@testable import API
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import Foundation
import Testing

/// The hot path's shortcuts answer exactly like the general code they stand in for.
@Suite struct ProblemAndHeaderTests {
    @Test func aFieldsValueIsTheSubscriptsWithoutJoiningASingleOne() throws {
        let custom = try #require(HTTPField.Name("X-Custom"))
        var fields: HTTPFields = [.authorization: "Bearer abc", .contentType: "application/json"]
        #expect(fields.value(.authorization) == "Bearer abc")
        #expect(fields.value(.accept) == nil)
        fields.append(HTTPField(name: custom, value: "one"))
        fields.append(HTTPField(name: .contentLength, value: "3"))
        fields.append(HTTPField(name: custom, value: "two"))
        // A repeated field comes back as the subscript joins it, so a second Authorization still
        // makes a malformed token rather than letting the first one through.
        #expect(fields.value(custom) == "one, two")
        #expect(fields.value(custom) == fields[custom])
        fields.append(HTTPField(name: .authorization, value: "Bearer other"))
        #expect(fields.value(.authorization) == "Bearer abc, Bearer other")
    }

    @Test func thePreparedSoldOutAnswerIsTheOneTheGeneralPathWrites() async throws {
        // Built field by field from other string instances: equal to `soldOut`, so it is answered
        // from the prepared body; the general path's body is what that must match.
        let rebuilt = Problem(ProblemCode(rawValue: "sold-" + "out")!, detail: ["no units of this", "product are left"].joined(separator: " "))
        #expect(rebuilt == Problem.soldOut)
        let fewer = Problem(.soldOut, detail: "fewer than 2 units of product 7 are left")
        let router = Router()
        router.get("/prepared") { request, context in try Problem.soldOut.response(from: request, context: context) }
        router.get("/fewer") { request, context in try fewer.response(from: request, context: context) }
        try await Application(router: router).test(.router) { client in
            let prepared = try await client.execute(uri: "/prepared", method: .get)
            #expect(prepared.status == .conflict)
            #expect(prepared.headers[.contentType] == "application/problem+json")
            #expect(Array(prepared.body.readableBytesView) == rebuilt.body)
            let json = try #require(JSONSerialization.jsonObject(with: Data(prepared.body.readableBytesView)) as? [String: Any])
            #expect(json["type"] as? String == "/problems/sold-out")
            #expect(json["status"] as? Int == 409)
            #expect(json["detail"] as? String == "no units of this product are left")

            let other = try await client.execute(uri: "/fewer", method: .get)
            #expect(other.status == .conflict)
            #expect(Array(other.body.readableBytesView) == fewer.body, "another sold-out problem keeps its own detail")
        }
    }
}
