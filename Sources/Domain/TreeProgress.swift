import Foundation

/// What a tree parent's children are doing: how many of each level are in each status.
public struct TreeProgress: Sendable, Hashable {
    public struct Count: Sendable, Hashable {
        public var level: Int
        public var status: RunStatus
        /// Queued and not yet released by the parent (``DocumentTree/heldUntil``).
        public var held: Bool
        public var count: Int

        public init(level: Int, status: RunStatus, held: Bool, count: Int) {
            self.level = level
            self.status = status
            self.held = held
            self.count = count
        }
    }

    public var counts: [Count]

    public init(counts: [Count]) { self.counts = counts }

    /// Children of `level` matching `include`.
    public func count(level: Int, _ include: (Count) -> Bool = { _ in true }) -> Int {
        counts.filter { $0.level == level && include($0) }.reduce(0) { $0 + $1.count }
    }

    /// Children of `level` that ended (any terminal status).
    public func finished(level: Int) -> Int { count(level: level) { $0.status.isTerminal } }

    /// Children of `level` at the provider or released to be sent.
    public func inFlight(level: Int) -> Int { count(level: level) { !$0.status.isTerminal && !$0.held } }

    /// Children of `level` still held back by the parent.
    public func held(level: Int) -> Int { count(level: level) { $0.held } }

    /// Children of `level` that ended without a result (failed, timed out, incomplete, cancelled).
    public func unsuccessful(level: Int) -> Int { count(level: level) { $0.status.isTerminal && $0.status != .completed } }

    /// The levels that have children, in order.
    public var levels: [Int] { Array(Set(counts.map(\.level))).sorted() }

    /// One line per level: `level 0 (map): 480/500 done, 16 in flight, 1 failed`.
    public var lines: [String] {
        levels.map { level in
            var line = "level \(level) (\(level == 0 ? "map" : "merge")): \(finished(level: level))/\(count(level: level)) done"
            let flying = inFlight(level: level)
            if flying > 0 { line += ", \(flying) in flight" }
            let failed = unsuccessful(level: level)
            if failed > 0 { line += ", \(failed) without result" }
            return line
        }
    }
}

/// A child as its parent's step reads it: everything but its input.
public struct TreeChild: Sendable, Hashable {
    public var id: RunID
    public var level: Int
    public var chunkIndex: Int
    public var status: RunStatus
    public var charStart: Int
    public var charEnd: Int
    public var output: RunOutput?
    public var error: RunFailure?
    public var usage: RunUsage?
    public var costMicros: Int64
    public var orphanCostMicros: Int64

    public init(
        id: RunID, level: Int, chunkIndex: Int, status: RunStatus, charStart: Int, charEnd: Int, output: RunOutput? = nil,
        error: RunFailure? = nil, usage: RunUsage? = nil, costMicros: Int64 = 0, orphanCostMicros: Int64 = 0
    ) {
        self.id = id
        self.level = level
        self.chunkIndex = chunkIndex
        self.status = status
        self.charStart = charStart
        self.charEnd = charEnd
        self.output = output
        self.error = error
        self.usage = usage
        self.costMicros = costMicros
        self.orphanCostMicros = orphanCostMicros
    }
}

/// What cancelling a parent's children did.
public struct TreeCancellation: Sendable, Hashable {
    /// Queued children cancelled at once.
    public var cancelled: Int
    /// In-flight children asked to cancel (their pollers cancel them at the provider).
    public var requested: Int

    public init(cancelled: Int, requested: Int) {
        self.cancelled = cancelled
        self.requested = requested
    }
}

/// A child row as a store reads it for ``TreeChild``; the checks live here once.
public struct StoredTreeChildColumns: Sendable {
    public var id = ""
    public var level: Int?
    public var chunkIndex: Int?
    public var status = ""
    public var charStart: Int?
    public var charEnd: Int?
    public var output: String?
    public var error: String?
    public var usage: String?
    public var costMicros: Int64?
    public var orphanCostMicros: Int64 = 0

    public init() {}

    public func child() throws(KilnError) -> TreeChild {
        var columns = StoredRunColumns()
        columns.id = id
        columns.status = status
        columns.output = output
        columns.error = error
        columns.usage = usage
        let run = try columns.run()
        return TreeChild(
            id: run.id, level: level ?? 0, chunkIndex: chunkIndex ?? 0, status: run.status, charStart: charStart ?? 0,
            charEnd: charEnd ?? 0, output: run.output, error: run.error, usage: run.usage, costMicros: costMicros ?? 0,
            orphanCostMicros: orphanCostMicros)
    }
}
