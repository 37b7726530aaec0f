import Foundation

/// Renders a `LoadSummary` for people (a terminal table, an HTML page with SVG charts) and
/// machines (JSON).
public enum LoadReport {
    public static func text(_ summary: LoadSummary, title: String) -> String {
        func f(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }
        var lines = [
            title,
            "requests        \(summary.requests) in \(f(summary.seconds, 1)) s = \(f(summary.requestsPerSecond, 0))/s (successful \(f(summary.successesPerSecond, 0))/s)",
            "latency ms      p50 \(f(summary.latencyMs.p50))  p90 \(f(summary.latencyMs.p90))  p99 \(f(summary.latencyMs.p99))  p99.9 \(f(summary.latencyMs.p999))  max \(f(summary.latencyMs.max))",
            "successes ms    p50 \(f(summary.successLatencyMs.p50))  p90 \(f(summary.successLatencyMs.p90))  p99 \(f(summary.successLatencyMs.p99))  p99.9 \(f(summary.successLatencyMs.p999))  max \(f(summary.successLatencyMs.max))",
            "outcomes",
        ]
        for (outcome, count) in summary.outcomes.sorted(by: { $0.value > $1.value }) {
            lines.append("  \(outcome.padding(toLength: 28, withPad: " ", startingAt: 0)) \(count)")
        }
        lines.append("timeline        second: requests/s (p99 ms)")
        lines.append("  " + summary.timeline.map { "\($0.second): \($0.requests) (\(f($0.p99Ms, 1)))" }.joined(separator: "  "))
        if let stages = summary.serverStages {
            func ms(_ value: Double?) -> String { value.map { f($0) + " ms" } ?? "-" }
            lines.append(
                "server stages   writer: \(stages.writerBatches) batches of \(stages.commandsPerBatch.map { f($0, 1) } ?? "-") commands, "
                    + "transaction \(ms(stages.transactionMeanMs)), batch \(ms(stages.batchMeanMs)), oldest command waited \(ms(stages.queueWaitMeanMs)) (means)")
            lines.append(
                "                Redis gate: \(stages.redisRoundTrips) round trips of \(stages.callsPerRoundTrip.map { f($0, 1) } ?? "-") calls, \(ms(stages.redisRoundTripMeanMs)) each (mean)")
        }
        if let invariants = summary.invariants {
            lines.append(
                "invariants      \(invariants.holds ? "HOLD" : "BROKEN"): \(invariants.inLedger)/\(invariants.acknowledged) acknowledged in the ledger, "
                    + "\(invariants.unitsSold) sold of \(invariants.stock), audit differences \(invariants.auditDifferences)")
        }
        return lines.joined(separator: "\n")
    }

    public static func json(_ summary: LoadSummary) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        return String(decoding: try encoder.encode(summary), as: UTF8.self)
    }

    /// A self-contained page: the summary and two SVG charts (throughput, latency per second).
    public static func html(_ summary: LoadSummary, title: String) -> String {
        let escapedTitle = title.htmlEscaped
        let throughput = chart(
            "requests per second", summary.timeline.map(\.second),
            [("all", "#3366cc", summary.timeline.map { Double($0.requests) }), ("successful", "#109618", summary.timeline.map { Double($0.successes) })])
        let latency = chart(
            "latency per second (ms)", summary.timeline.map(\.second),
            [("p50", "#3366cc", summary.timeline.map(\.p50Ms)), ("p99", "#dc3912", summary.timeline.map(\.p99Ms))])
        let text = self.text(summary, title: title).htmlEscaped
        return """
            <!doctype html>
            <html><head><meta charset="utf-8"><title>\(escapedTitle)</title>
            <style>body{font-family:sans-serif;margin:2em}pre{background:#f6f6f6;padding:1em}</style></head>
            <body><h1>\(escapedTitle)</h1>
            \(throughput)
            \(latency)
            <pre>\(text)</pre>
            </body></html>
            """
    }

    /// An SVG line chart of one or more series over the seconds, with `bands` (labelled
    /// intervals of seconds, e.g. faults) shaded behind them.
    static func chart(
        _ title: String, _ seconds: [Int], _ series: [(name: String, color: String, values: [Double])],
        bands: [(label: String, from: Double, to: Double)] = []
    ) -> String {
        let width = 800.0, height = 260.0, left = 60.0, bottom = 30.0, top = 30.0
        let maxValue = max(series.flatMap(\.values).max() ?? 1, 1)
        let maxSecond = Double(max(seconds.last ?? 1, 1))
        func x(_ second: Int) -> Double { left + Double(second) / maxSecond * (width - left - 20) }
        func y(_ value: Double) -> Double { top + (1 - value / maxValue) * (height - top - bottom) }
        var svg = #"<svg xmlns="http://www.w3.org/2000/svg" width="\#(Int(width))" height="\#(Int(height))" role="img"><title>\#(title)</title>"#
        for band in bands {
            let from = left + band.from / maxSecond * (width - left - 20), to = left + band.to / maxSecond * (width - left - 20)
            svg += ##"<rect x="\##(String(format: "%.1f", from))" y="\##(top)" width="\##(String(format: "%.1f", max(to - from, 1)))" height="\##(height - top - bottom)" fill="#f4a261" fill-opacity="0.25"><title>\##(band.label.htmlEscaped)</title></rect>"##
            svg += ##"<text x="\##(String(format: "%.1f", from + 2))" y="\##(top + 10)" font-size="9" fill="#9a4a00">\##(band.label.htmlEscaped)</text>"##
        }
        svg += #"<text x="\#(left)" y="18" font-size="14">\#(title)</text>"#
        svg += #"<line x1="\#(left)" y1="\#(y(0))" x2="\#(width - 20)" y2="\#(y(0))" stroke="gray"/>"#
        svg += #"<line x1="\#(left)" y1="\#(top)" x2="\#(left)" y2="\#(y(0))" stroke="gray"/>"#
        svg += #"<text x="4" y="\#(top + 4)" font-size="11">\#(String(format: "%.0f", maxValue))</text><text x="4" y="\#(y(0))" font-size="11">0</text>"#
        svg += #"<text x="\#(width - 60)" y="\#(height - 8)" font-size="11">\#(Int(maxSecond)) s</text>"#
        for (index, line) in series.enumerated() {
            let points = zip(seconds, line.values).map { "\(String(format: "%.1f", x($0))),\(String(format: "%.1f", y($1)))" }.joined(separator: " ")
            svg += #"<polyline fill="none" stroke="\#(line.color)" stroke-width="2" points="\#(points)"/>"#
            svg += #"<text x="\#(left + 10 + Double(index) * 110)" y="\#(height - 8)" font-size="12" fill="\#(line.color)">\#(line.name)</text>"#
        }
        return svg + "</svg>"
    }
}
