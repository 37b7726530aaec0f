/// PostgreSQL's binary form of one-dimensional arrays (what `array_recv` reads): no quoting or
/// escaping on our side and no text parsing on the server's, for the writer's batch columns.
enum PostgresBinaryArray {
    static let int8OID: UInt32 = 20
    static let textOID: UInt32 = 25

    static func encode(_ elements: [Int64?]) -> [UInt8] {
        var out = header(count: elements.count, hasNull: elements.contains(nil), elementOID: int8OID, capacity: elements.count * 12)
        for element in elements {
            guard let element else {
                append(Int32(-1), to: &out)
                continue
            }
            append(Int32(8), to: &out)
            append(UInt64(bitPattern: element), to: &out)
        }
        return out
    }

    static func encode(_ elements: [String?]) -> [UInt8] {
        let capacity = elements.reduce(0) { $0 + 4 + ($1?.utf8.count ?? 0) }
        var out = header(count: elements.count, hasNull: elements.contains(nil), elementOID: textOID, capacity: capacity)
        for element in elements {
            guard let element else {
                append(Int32(-1), to: &out)
                continue
            }
            append(Int32(element.utf8.count), to: &out)
            out.append(contentsOf: element.utf8)
        }
        return out
    }

    /// Dimensions (0 for an empty array), null flag, element type, then size and lower bound.
    private static func header(count: Int, hasNull: Bool, elementOID: UInt32, capacity: Int) -> [UInt8] {
        var out = [UInt8]()
        out.reserveCapacity(20 + capacity)
        append(Int32(count == 0 ? 0 : 1), to: &out)
        append(Int32(hasNull ? 1 : 0), to: &out)
        append(elementOID, to: &out)
        if count > 0 {
            append(Int32(count), to: &out)
            append(Int32(1), to: &out)
        }
        return out
    }

    private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.bigEndian) { out.append(contentsOf: $0) }
    }
}
