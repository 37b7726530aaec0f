import Foundation

extension ChaosReport {
    /// A self-contained page (inline SVG, no external assets): the timeline of outcomes and of
    /// the successful operations' p99 with the faults as shaded bands, the table per kind of
    /// fault, and every violation.
    public func html() -> String {
        let title = "ledger chaos: seed \(seed), \(nodes) node(s), \(operations) operations — \(passed ? "passed" : "FAILED")"
        let axis = seconds.map(\.second)
        let bands = faults.map { (label: $0.kind.rawValue + ($0.node.map { " n\($0)" } ?? ""), from: Double($0.startMs - startMs) / 1_000, to: Double($0.endMs - startMs) / 1_000) }
        let palette = ["#ff9900", "#990099", "#0099c6", "#dd4477", "#66aa00", "#b82e2e"]
        let codes = Dictionary(seconds.flatMap(\.refusedByCode), uniquingKeysWith: +).sorted { ($1.value, $0.key) < ($0.value, $1.key) }.prefix(palette.count)
        var outcomes: [(name: String, color: String, values: [Double])] = [
            ("ok", "#109618", seconds.map { Double($0.ok) }), ("unknown", "#dc3912", seconds.map { Double($0.unknown) }),
        ]
        for (index, code) in codes.enumerated() {
            outcomes.append((code.key, palette[index], seconds.map { Double($0.refusedByCode[code.key] ?? 0) }))
        }
        let timeline = LoadReport.chart("operations per second by outcome", axis, outcomes, bands: bands)
        let latency = LoadReport.chart("p99 of successful operations (ms)", axis, [("p99", "#3366cc", seconds.map { Double($0.okP99Ms ?? 0) })], bands: bands)
        var rows = ""
        for row in faultKinds {
            let worst = row.recoveriesMs.max().map { "\($0) ms" } ?? "none within \(recoveryBoundMs) ms"
            rows += "<tr><td>\(row.kind.rawValue)</td><td>\(row.count)</td><td>\(worst)</td><td>\(row.errorsDuring)</td><td>\(row.lostAcknowledged)</td><td>\(row.oversoldUnits)</td></tr>\n"
        }
        let violations = verdict.violations.isEmpty
            ? "<p>None.</p>" : "<ol>" + verdict.violations.prefix(200).map { "<li>\($0.description.htmlEscaped)</li>" }.joined() + "</ol>"
        return """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>\(title.htmlEscaped)</title>
            <style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}</style></head>
            <body><h1>\(title.htmlEscaped)</h1>
            <p>Acknowledged reservations: \(verdict.acknowledged), in the ledger: \(verdict.acknowledgedInLedger). Unknown outcomes resolved: \(verdict.unknownCommitted) committed once, \(verdict.unknownNotCommitted) not at all. Oversold units: \(verdict.oversoldUnits).</p>
            \(timeline)
            \(latency)
            <h2>Faults</h2>
            <table><tr><th>fault</th><th>times</th><th>worst time to first success after it</th><th>errors during it</th><th>acknowledged orders lost</th><th>oversold units</th></tr>
            \(rows)</table>
            <h2>Violations</h2>
            \(violations)
            </body></html>
            """
    }
}
