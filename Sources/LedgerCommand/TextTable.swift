import Ledger

/// A plain-text table with left-aligned, padded columns (long cells are cut to keep it readable).
struct TextTable: CustomStringConvertible {
    var header: [String]
    var rows: [[String]]
    var maxCellWidth = 80

    init(header: [String], rows: [[String]]) {
        self.header = header
        self.rows = rows
    }

    /// The audit's table: one row per difference.
    init(_ differences: [AuditDifference]) {
        self.init(header: ["SOURCE", "SUBJECT", "LEDGER SAYS", "COPY SAYS"], rows: differences.map { [$0.source, $0.subject, $0.ledger, $0.other] })
    }

    var description: String {
        let cells = ([header] + rows).map { row in
            row.map { $0.count > maxCellWidth ? String($0.prefix(maxCellWidth - 1)) + "…" : $0 }
        }
        var widths = [Int](repeating: 0, count: header.count)
        for row in cells {
            for (index, cell) in row.enumerated() { widths[index] = max(widths[index], cell.count) }
        }
        return cells.map { row in
            row.enumerated().map { index, cell in
                index == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[index] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n")
    }
}
