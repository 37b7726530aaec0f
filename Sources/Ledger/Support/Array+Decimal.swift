extension Array where Element == UInt8 {
    /// Appends `value` in decimal ASCII. Appending `String(value).utf8` instead goes through the
    /// string view's generic iterator, byte by byte, on hot paths (JSON fields, Redis's wire lengths).
    @inlinable
    public mutating func appendDecimal(_ value: Int64) {
        if value < 0 { append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var divisor: UInt64 = 1
        while magnitude / divisor >= 10 { divisor *= 10 }  // at most 10^18: |Int64.min| < 10^19
        repeat {
            append(UInt8(ascii: "0") + UInt8(magnitude / divisor % 10))
            divisor /= 10
        } while divisor > 0
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
