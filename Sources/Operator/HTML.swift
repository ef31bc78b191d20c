import Foundation
import KilnDomain

/// Server-rendered HTML with no external assets: every value escaped, one layout, inline CSS,
/// charts as inline SVG.
enum HTML {
    /// Escapes text for an element or a quoted attribute.
    static func h(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }

    /// Percent-encodes a query value.
    static func q(_ text: String) -> String {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        return text.addingPercentEncoding(withAllowedCharacters: allowed) ?? ""
    }

    static func query(_ pairs: [(String, String?)]) -> String {
        let parts = pairs.compactMap { key, value in value.flatMap { $0.isEmpty ? nil : "\(key)=\(q($0))" } }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    static func dollars(_ micros: Int64) -> String { String(format: "$%.4f", Double(micros) / 1_000_000) }

    static func age(_ seconds: Double) -> String {
        switch seconds {
        case ..<60: String(format: "%.0f s", seconds)
        case ..<3600: String(format: "%.0f min", seconds / 60)
        case ..<172_800: String(format: "%.1f h", seconds / 3600)
        default: String(format: "%.1f d", seconds / 86_400)
        }
    }

    static func time(_ date: Date?) -> String { date.map { "<span class=\"t\">\(h(Timestamp.format($0)))</span>" } ?? "–" }

    /// The page around `body`: navigation, the live-refresh control (`refresh` seconds, 0: paused).
    static func page(title: String, path: String, query: [(String, String?)], refresh: Int, readOnly: Bool, body: String) -> String {
        let nav = [("/", "Overview"), ("/runs", "Runs"), ("/attention", "Needs attention")].map { href, name in
            "<a href=\"\(href)\"\(href == path ? " aria-current=\"page\"" : "")>\(name)</a>"
        }.joined()
        let others = query.filter { $0.0 != "refresh" }
        // A confirmation or a result (no path) never refreshes: a reload must not repeat or widen an action.
        let control =
            path.isEmpty
            ? ""
            : "refresh: "
                + [0, 5, 15, 60].map { seconds in
                    let label = seconds == 0 ? "pause" : "\(seconds) s"
                    let link = h(path + Self.query(others + [("refresh", String(seconds))]))
                    return seconds == refresh ? "<b>\(label)</b>" : "<a href=\"\(link)\">\(label)</a>"
                }.joined(separator: " · ")
        return """
            <!doctype html>
            <html lang="en"><head><meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            \(refresh > 0 ? "<meta http-equiv=\"refresh\" content=\"\(refresh)\">" : "")
            <title>\(h(title)) · Kiln</title>
            <style>\(style)</style></head>
            <body><header><strong>Kiln</strong><nav>\(nav)</nav>
            <span class="refresh">\(control)</span>\(readOnly ? "<span class=\"ro\">read-only</span>" : "")</header>
            <main><h1>\(h(title))</h1>
            \(body)
            </main></body></html>
            """
    }

    static func table(_ header: [String], _ rows: [[String]], empty: String = "nothing") -> String {
        guard !rows.isEmpty else { return "<p class=\"muted\">\(h(empty))</p>" }
        let head = header.map { "<th>\(h($0))</th>" }.joined()
        let body = rows.map { "<tr>" + $0.map { "<td>\($0)</td>" }.joined() + "</tr>" }.joined(separator: "\n")
        return "<div class=\"scroll\"><table><thead><tr>\(head)</tr></thead><tbody>\n\(body)\n</tbody></table></div>"
    }

    /// Name–value rows, without a header.
    static func fields(_ rows: [[String]]) -> String {
        let body = rows.map { "<tr><th scope=\"row\">\($0[0])</th><td>\($0[1])</td></tr>" }.joined(separator: "\n")
        return "<div class=\"scroll\"><table class=\"fields\"><tbody>\n\(body)\n</tbody></table></div>"
    }

    static func status(_ status: String) -> String { "<span class=\"st st-\(h(status))\">\(h(status))</span>" }

    /// Stacked bars (completed, failed, other) per hour and a line of mean poll lag, as inline SVG.
    static func activityChart(_ hours: [ActivityHour], since: Date, now: Date) -> String {
        let width = 720.0
        let height = 160.0
        let slots = max(1, Int((now.timeIntervalSince(since) / 3600).rounded(.up)))
        let step = width / Double(slots)
        let top = Double(max(1, hours.map { $0.completed + $0.failed + $0.other }.max() ?? 1))
        let maxLag = max(1, hours.compactMap(\.meanLagSeconds).max() ?? 1)
        var bars = ""
        var points: [String] = []
        for hour in hours {
            let slot = Double(Int(hour.hour.timeIntervalSince(since) / 3600))
            guard slot >= 0, slot < Double(slots) else { continue }
            var y = height
            for (count, kind) in [(hour.completed, "c"), (hour.failed, "f"), (hour.other, "o")] where count > 0 {
                let barHeight = Double(count) / top * (height - 10)
                y -= barHeight
                bars += String(
                    format: "<rect class=\"%@\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\"><title>%d %@</title></rect>", kind,
                    slot * step + 1, y, max(1, step - 2), barHeight, count,
                    kind == "c" ? "completed" : kind == "f" ? "failed" : "other")
            }
            if let lag = hour.meanLagSeconds {
                points.append(String(format: "%.1f,%.1f", slot * step + step / 2, height - lag / maxLag * (height - 10)))
            }
        }
        let line = points.count > 1 ? "<polyline class=\"lag\" points=\"\(points.joined(separator: " "))\"/>" : ""
        return """
            <figure><svg viewBox="0 0 \(Int(width)) \(Int(height))" role="img" aria-label="runs finished per hour">\(bars)\(line)</svg>
            <figcaption>runs that ended per hour over the last \(slots) h: <span class="k c">completed</span> <span class="k f">failed</span> \
            <span class="k o">other</span>; line: mean poll lag (peak \(age(maxLag)))</figcaption></figure>
            """
    }

    static let style = """
        body{font:14px/1.45 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
        header{display:flex;flex-wrap:wrap;gap:.8em;align-items:center;padding:.6em 1em;background:#2b2d42;color:#fff}
        header a{color:#dfe3ff;margin-right:.8em;text-decoration:none}header a[aria-current]{color:#fff;font-weight:600}
        .refresh{margin-left:auto;font-size:12px}.ro{background:#ffb703;color:#000;padding:0 .5em;border-radius:3px}
        main{padding:1em;max-width:1200px;margin:auto}h1{font-size:20px;margin:.2em 0 .6em}h2{font-size:16px;margin:1.4em 0 .4em}
        .scroll{overflow-x:auto}table{border-collapse:collapse;width:100%;background:#fff}
        th,td{border-bottom:1px solid #e3e3e3;padding:.3em .5em;text-align:left;vertical-align:top}th{background:#f0f0f4}
        td.n,th.n{text-align:right}.muted{color:#777}.cards{display:flex;flex-wrap:wrap;gap:.6em}
        .card{background:#fff;border:1px solid #e3e3e3;border-radius:6px;padding:.5em .8em;min-width:8em}
        .card b{display:block;font-size:20px}.st{padding:0 .4em;border-radius:3px;background:#eee}
        .st-completed{background:#d8f3dc}.st-failed,.st-timed_out{background:#ffd6d6}.st-in_progress,.st-submitting{background:#dbe7ff}
        .st-cancelled,.st-incomplete{background:#f1e3c8}pre{white-space:pre-wrap;background:#fff;border:1px solid #e3e3e3;padding:.6em;max-height:30em;overflow:auto}
        form.filters{display:flex;flex-wrap:wrap;gap:.4em;align-items:end}form.filters label{display:flex;flex-direction:column;font-size:12px}
        input,select,button{font:inherit;padding:.2em .4em}button.danger{background:#c1121f;color:#fff;border:0;padding:.3em .8em;border-radius:4px}
        button.go{background:#2b2d42;color:#fff;border:0;padding:.3em .8em;border-radius:4px}form.inline{display:inline}
        svg{width:100%;max-width:720px;height:auto;background:#fff;border:1px solid #e3e3e3}rect.c{fill:#52b788}rect.f{fill:#e63946}
        rect.o{fill:#f4a261}polyline.lag{fill:none;stroke:#3a0ca3;stroke-width:2}.k{padding:0 .4em;color:#fff}.k.c{background:#52b788}
        .k.f{background:#e63946}.k.o{background:#f4a261}.notice{background:#fff3cd;border:1px solid #ffe08a;padding:.5em .8em}
        table.fields th{width:11em;background:#f7f7f9}td code{word-break:break-all}.t{white-space:nowrap}
        @media (max-width:600px){main{padding:.5em}td,th{padding:.2em .3em;font-size:13px}}
        """
}
