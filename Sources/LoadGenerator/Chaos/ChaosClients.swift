import Foundation
import NIOCore

/// The clients of a chaos run, behaving as real ones do: every reservation carries its own
/// `Idempotency-Key` and is sent again with the same key while its outcome is unknown (or the
/// server asks it to come back), with back-off and a bounded number of attempts; a reserved
/// buyer then confirms, cancels or walks away (the reservation expires). An admin adds stock
/// every second, so the sale goes on between faults while demand stays well above supply.
/// Every attempt is recorded, with its start, end, request and outcome.
public struct ChaosClients: Sendable {
    public struct Plan: Sendable {
        public var baseURL: String
        public var buyers: Int
        /// One token per user; user ids are 1…tokens.count.
        public var tokens: [String]
        public var adminToken: String
        public var productId: Int64
        public var restockPerSecond: Int64
        public var seed: UInt64
        public var requestTimeoutMs: Int64 = 3_000
        /// Attempts of one request, the first included.
        public var maxAttempts = 6
        public var confirmPercent: UInt64 = 40
        public var cancelPercent: UInt64 = 20

        public init(baseURL: String, buyers: Int, tokens: [String], adminToken: String, productId: Int64, restockPerSecond: Int64, seed: UInt64) {
            self.baseURL = baseURL
            self.buyers = buyers
            self.tokens = tokens
            self.adminToken = adminToken
            self.productId = productId
            self.restockPerSecond = restockPerSecond
            self.seed = seed
        }
    }

    let plan: Plan

    public init(_ plan: Plan) {
        precondition(plan.buyers > 0 && !plan.tokens.isEmpty && plan.maxAttempts > 0, "a run needs buyers, users and attempts")
        self.plan = plan
    }

    /// Runs until `deadline` (a request open then is finished, not retried); the history in order of start.
    public func run(until deadline: ChaosDeadline) async -> [ChaosOperation] {
        await withTaskGroup(of: [ChaosOperation].self) { group in
            for buyer in 0..<plan.buyers {
                group.addTask { await buy(as: buyer, until: deadline) }
            }
            group.addTask {
                await restock(until: deadline)
                return []
            }
            var history = [ChaosOperation]()
            for await operations in group { history += operations }
            return history.sorted { ($0.startMs, $0.endMs) < ($1.startMs, $1.endMs) }
        }
    }

    private func buy(as buyer: Int, until deadline: ChaosDeadline) async -> [ChaosOperation] {
        var random = SplitMix(seed: plan.seed ^ (UInt64(buyer + 1) &* 0xD6E8_FEB8_6659_FD93))
        var history = [ChaosOperation]()
        var purchase = 0
        while !deadline.hasPassed {
            purchase += 1
            let user = Int(random.next() % UInt64(plan.tokens.count))
            let template = ChaosOperation(
                kind: .reserve, startMs: 0, endMs: 0, userId: Int64(user + 1), productId: plan.productId,
                quantity: random.next() % 10 == 0 ? 2 : 1, idempotencyKey: "chaos-\(plan.seed)-\(buyer)-\(purchase)", outcome: .unknown(reason: "not sent"))
            if case .ok(let id) = await send(template, until: deadline, random: &random, into: &history) {
                let roll = random.next() % 100
                let ending: ChaosOperation.Kind? = roll < plan.confirmPercent ? .confirm : roll < plan.confirmPercent + plan.cancelPercent ? .cancel : nil
                if let ending {
                    await pause(milliseconds: Int64(random.next() % 500))
                    var follow = template
                    follow.kind = ending
                    follow.reservationId = id
                    _ = await send(follow, until: deadline, random: &random, into: &history)
                }
            }
            await pause(milliseconds: 20 + Int64(random.next() % 100))
        }
        return history
    }

    /// Sends `operation` until its outcome is known or its attempts are spent; records each attempt.
    private func send(
        _ operation: ChaosOperation, until deadline: ChaosDeadline, random: inout SplitMix, into history: inout [ChaosOperation]
    ) async -> ChaosOperation.Outcome {
        var outcome = operation.outcome
        for attempt in 0..<plan.maxAttempts {
            var record = operation
            record.startMs = Self.epochMs()
            outcome = await exchange(operation)
            record.endMs = Self.epochMs()
            record.outcome = outcome
            history.append(record)
            guard outcome.isRetried, attempt + 1 < plan.maxAttempts, !deadline.hasPassed else { break }
            let backoff = min(Int64(100) << attempt, 2_000)
            await pause(milliseconds: backoff + Int64(random.next() % UInt64(backoff)))
        }
        return outcome
    }

    private func exchange(_ operation: ChaosOperation) async -> ChaosOperation.Outcome {
        let user = Int(operation.userId) - 1
        let request: LoadScenario.Request
        switch operation.kind {
        case .reserve:
            request = .init(
                method: "POST", path: "/v1/seckill", body: #"{"productId":\#(operation.productId),"quantity":\#(operation.quantity)}"#,
                token: plan.tokens[user], user: user, isReservation: true, idempotencyKey: operation.idempotencyKey)
        case .confirm:
            request = .init(
                method: "POST", path: "/v1/reservations/\(operation.reservationId ?? "")/confirm", body: #"{"paymentRef":"pay-\#(operation.idempotencyKey ?? "")"}"#,
                token: plan.tokens[user], user: user, isReservation: false)
        case .cancel:
            request = .init(
                method: "POST", path: "/v1/reservations/\(operation.reservationId ?? "")/cancel", body: nil, token: plan.tokens[user], user: user,
                isReservation: false)
        }
        do {
            let (status, body) = try await HTTPLoadRunner.send(request, to: plan.baseURL, timeout: .milliseconds(plan.requestTimeoutMs))
            let buffer = ByteBuffer(string: body)
            return .init(
                status: status, code: HTTPLoadRunner.field("code", in: buffer),
                reservationId: HTTPLoadRunner.field("reservationId", in: buffer) ?? operation.reservationId)
        } catch {
            return .unknown(reason: "\(error)")
        }
    }

    private func restock(until deadline: ChaosDeadline) async {
        let request = LoadScenario.Request(
            method: "POST", path: "/v1/products/\(plan.productId)/stock", body: #"{"quantity":\#(plan.restockPerSecond)}"#, token: plan.adminToken,
            user: 0, isReservation: false)
        while !deadline.hasPassed {
            await pause(milliseconds: 1_000)
            // Whether it landed does not matter: the checker reads the stock from the ledger.
            _ = try? await HTTPLoadRunner.send(request, to: plan.baseURL, timeout: .milliseconds(plan.requestTimeoutMs))
        }
    }

    private func pause(milliseconds: Int64) async {
        try? await Task.sleep(for: .milliseconds(milliseconds))
    }

    /// Now, in epoch milliseconds: the clock of the history and of the ledger's `recorded_at`.
    public static func epochMs() -> Int64 { Int64((Date().timeIntervalSince1970 * 1_000).rounded()) }
}
