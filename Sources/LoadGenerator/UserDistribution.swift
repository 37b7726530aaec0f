import Foundation

/// How a run's requests pick their user among `users`: uniformly, or by Zipf's law, where the
/// user of rank k (counted from 1) is picked with weight 1/kˢ — a few heavy hitters and a long
/// tail, as a sale's bots and refreshers make it. Heavy hitters meet the per-user limit and the
/// per-user rate limit, which a uniform spread over many users never reaches.
public struct UserDistribution: Sendable {
    public enum Shape: Sendable, Equatable {
        case uniform
        case zipf(exponent: Double)
    }

    /// Largest population a Zipf distribution is tabulated for (8 bytes a user).
    public static let maxZipfUsers = 10_000_000

    public let users: Int
    public let shape: Shape
    /// Zipf: the running sum of the weights, rank 1 first; empty for uniform.
    private let cumulativeWeights: [Double]

    public init(users: Int, shape: Shape = .uniform) {
        precondition(users > 0, "at least one user")
        self.users = users
        self.shape = shape
        switch shape {
        case .uniform:
            cumulativeWeights = []
        case .zipf(let exponent):
            precondition(exponent.isFinite && exponent > 0, "a Zipf exponent is a positive number")
            precondition(users <= Self.maxZipfUsers, "at most \(Self.maxZipfUsers) users for Zipf")
            var sum = 0.0
            cumulativeWeights = (1...users).map { rank in
                sum += 1 / pow(Double(rank), exponent)
                return sum
            }
        }
    }

    /// The user (an index in `0..<users`, rank 1 is index 0) that a uniformly random 64-bit
    /// number stands for.
    public func user(_ random: UInt64) -> Int {
        guard let total = cumulativeWeights.last else { return Int(random % UInt64(users)) }
        // 53 random bits make a Double in [0, 1); the user is the first whose running sum exceeds it.
        let target = Double(random >> 11) * 0x1p-53 * total
        var (low, high) = (0, users - 1)
        while low < high {
            let middle = (low + high) / 2
            if cumulativeWeights[middle] > target { high = middle } else { low = middle + 1 }
        }
        return low
    }

    /// The share of requests the busiest user gets.
    public var busiestUserShare: Double {
        guard let total = cumulativeWeights.last else { return 1 / Double(users) }
        return cumulativeWeights[0] / total
    }

    /// For reports: "uniform", or "zipf 1.0, busiest user 8.3 %".
    public var label: String {
        switch shape {
        case .uniform: "uniform"
        case .zipf(let exponent): "zipf \(exponent), busiest user \(String(format: "%.1f", busiestUserShare * 100)) %"
        }
    }
}
