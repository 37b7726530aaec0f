extension Array where Element == UInt8 {
    /// Appends `value` in decimal ASCII. Appending `String(value).utf8` instead goes through the
    /// string view's generic iterator, a few hundred instructions a number on hot paths (JSON
    /// fields, Redis's wire lengths).
    @inlinable
    public mutating func appendDecimal(_ value: Int64) {
        // The digits come out backwards into a local buffer and go in with one append: appending
        // each digit paid a uniqueness and capacity check per byte (~260 instructions a number).
        var magnitude = value.magnitude
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { digits in
            var start = digits.count  // 19 digits and a sign at most (|Int64.min| = 9223372036854775808)
            repeat {
                start -= 1
                digits[start] = UInt8(ascii: "0") &+ UInt8(truncatingIfNeeded: magnitude % 10)
                magnitude /= 10
            } while magnitude > 0
            if value < 0 {
                start -= 1
                digits[start] = UInt8(ascii: "-")
            }
            append(contentsOf: UnsafeBufferPointer(rebasing: digits[start...]))
        }
    }

    /// `value` in decimal ASCII.
    @inlinable
    public static func decimal(_ value: Int64) -> [UInt8] {
        var digits = [UInt8]()
        digits.reserveCapacity(20)
        digits.appendDecimal(value)
        return digits
    }
}
