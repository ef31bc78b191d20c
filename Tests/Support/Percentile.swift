/// Nearest-rank percentile of `values` (`p` in 0...1), for the figures timing tests print.
public func percentile(_ values: [Double], _ p: Double) -> Double {
    let sorted = values.sorted()
    return sorted[max(0, Int((p * Double(sorted.count)).rounded(.up)) - 1)]
}
