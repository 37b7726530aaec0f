import ArgumentParser
import Ledger
import LoadGenerator

/// A sale listed through the API by an admin, open from a minute ago for a day: how `ledger
/// bench` and `ledger chaos` set up the product they sell.
enum SaleListing {
    static func list(at url: String, admin: String, productId: Int64, stock: Int64, limitPerUser: Int64, reservationTTLSeconds: Int64) async throws {
        let now = Timestamp.now()
        let body = """
            {"id":\(productId),"name":"sale \(productId)","priceMinor":100,"currency":"EUR","stock":\(stock),\
            "startsAt":"\(now.adding(seconds: -60).iso8601)","endsAt":"\(now.adding(seconds: 86_400).iso8601)",\
            "limitPerUser":\(limitPerUser),"reservationTTLSeconds":\(reservationTTLSeconds)}
            """
        let request = LoadScenario.Request(method: "POST", path: "/v1/products", body: body, token: admin, user: 0, isReservation: false)
        let status = try await HTTPLoadRunner.send(request, to: url).status
        guard status == 201 else { throw ValidationError("listing the sale answered \(status); is the server at \(url) using this JWT secret?") }
    }
}
