import Foundation

/// How one run is executed: which model, how much it may produce, how long it may take.
///
/// Defaults come from configuration (`policy.*` keys); a run's `policy` JSON overrides any
/// of them. Kiln writes the resolved policy on the row at enqueue, so the record shows what
/// applied; a row inserted by another app with `{}` resolves against the defaults when worked.
public struct RunPolicy: Sendable, Hashable, Codable {
    public enum CompletionWindow: String, Sendable, Codable, CaseIterable {
        case soonest
        case twoHours = "2h"
        case eightHours = "8h"

        /// `2h` or `8h`, the windows the provider discounts; nil for `soonest`.
        public var discountedWindow: String? { self == .soonest ? nil : rawValue }

        /// How long a run may legitimately wait in the provider's queue.
        public var seconds: Double {
            switch self {
            case .soonest: 0
            case .twoHours: 7200
            case .eightHours: 28800
            }
        }
    }

    /// The price lane: how patient the run may be for a lower price (``Lane``).
    public enum Lane: String, Sendable, Codable, CaseIterable {
        /// Today's way: the project's tier, no window.
        case standard
        /// `service_tier: "flex"` (half price, sometimes refused with 429 `resource_unavailable`:
        /// re-queued at no charge, then sent at standard once `submitter.flex_fallback_seconds` passed).
        case flex
        /// `background_options.completion_window` `2h` (30 % off) or `8h` (40 % off).
        case window2h = "window_2h"
        case window8h = "window_8h"
        /// The Batch API: gathered per model into one file, half price, within 24 h
        /// (``KilnBatch``). A run whose deadline is nearer than that, or that a batch gave back
        /// without a result, is sent at standard.
        case batch
    }

    public var model: String
    public var maxOutputTokens: Int
    /// Output longer than this is cut, and the cut recorded on the run.
    public var maxOutputChars: Int
    public var requiresReview: Bool
    /// From `created_at`; past it the run is cancelled at the provider and ends `timed_out`.
    public var deadlineSeconds: Int
    /// Provider submissions before a retryable error becomes `failed`.
    public var maxAttempts: Int
    /// Sent as `background_options.completion_window` only when set.
    public var completionWindow: CompletionWindow?
    /// The most a run may cost; a long document whose estimated tree costs more is refused
    /// before any child is created. Nil: no cap.
    public var maxCostMicros: Int64?
    /// A long document's share of text (0…0.5) whose map children may fail for good while
    /// the parent still completes, marked `partial` with the missing ranges. 0: any failure fails it.
    public var allowMissingFraction: Double
    /// When a cost cap of the run's tenant or feature (`quotas.*`) would be exceeded: wait in
    /// `queued` until the window rolls or the cap is raised, or fail with `over_budget`.
    public var overBudget: OverBudget
    public var lane: Lane

    public init(
        model: String = "gpt-5-mini", maxOutputTokens: Int = 2000, maxOutputChars: Int = 20000,
        requiresReview: Bool = false, deadlineSeconds: Int = 3600, maxAttempts: Int = 3,
        completionWindow: CompletionWindow? = nil, maxCostMicros: Int64? = nil, allowMissingFraction: Double = 0,
        overBudget: OverBudget = .wait, lane: Lane = .standard
    ) {
        self.model = model
        self.maxOutputTokens = maxOutputTokens
        self.maxOutputChars = maxOutputChars
        self.requiresReview = requiresReview
        self.deadlineSeconds = deadlineSeconds
        self.maxAttempts = maxAttempts
        self.completionWindow = completionWindow
        self.maxCostMicros = maxCostMicros
        self.allowMissingFraction = allowMissingFraction
        self.overBudget = overBudget
        self.lane = lane
    }

    enum CodingKeys: String, CodingKey, CaseIterable {
        case model
        case maxOutputTokens = "max_output_tokens"
        case maxOutputChars = "max_output_chars"
        case requiresReview = "requires_review"
        case deadlineSeconds = "deadline_seconds"
        case maxAttempts = "max_attempts"
        case completionWindow = "completion_window"
        case maxCostMicros = "max_cost_micros"
        case allowMissingFraction = "allow_missing_fraction"
        case overBudget = "over_budget"
        case lane
    }

    /// Checks every field; the message names the key and the value.
    public func validate(prefix: String = "policy.") throws(KilnError) {
        func fail(_ key: String, _ rule: String, _ value: Any) throws(KilnError) {
            throw KilnError(.invalidPolicy, "\(prefix)\(key) \(rule), got \(value)")
        }
        let trimmed = model.trimmingCharacters(in: .whitespaces)
        if trimmed.isEmpty || model.count > 100 {
            try fail("model", "must be a model name of 1–100 characters", "\"\(model.prefix(100))\"")
        }
        if !(1...128_000).contains(maxOutputTokens) { try fail("max_output_tokens", "must be in 1...128000", maxOutputTokens) }
        if !(1...1_000_000).contains(maxOutputChars) { try fail("max_output_chars", "must be in 1...1000000", maxOutputChars) }
        if !(1...7 * 86400).contains(deadlineSeconds) { try fail("deadline_seconds", "must be in 1...604800", deadlineSeconds) }
        if !(1...20).contains(maxAttempts) { try fail("max_attempts", "must be in 1...20", maxAttempts) }
        if let cap = maxCostMicros, cap < 0 { try fail("max_cost_micros", "must be at least 0", cap) }
        if !(0...0.5).contains(allowMissingFraction) {
            try fail("allow_missing_fraction", "must be in 0...0.5", allowMissingFraction)
        }
        if let window = completionWindow, Double(deadlineSeconds) < window.seconds {
            try fail("deadline_seconds", "must cover completion_window \(window.rawValue) (\(Int(window.seconds)) s)", deadlineSeconds)
        }
    }

    /// This policy with the keys of `overrides` (a JSON object) applied, validated.
    ///
    /// Unknown keys and wrong types are refused with the key named, so a typo never
    /// silently falls back to a default.
    /// `prefix` names where the overrides come from in messages (`policy.`, `features.X.policy.`).
    public func applying(_ overrides: JSONValue, prefix: String = "policy.") throws(KilnError) -> RunPolicy {
        guard let object = overrides.objectValue else {
            if overrides == .null { return self }
            throw KilnError(.invalidPolicy, "\(prefix.dropLast()) must be a JSON object")
        }
        var policy = self
        for (key, value) in object.sorted(by: { $0.key < $1.key }) {
            guard let field = CodingKeys(rawValue: key) else {
                let known = CodingKeys.allCases.map(\.rawValue).joined(separator: ", ")
                throw KilnError(
                    .invalidPolicy, "unknown policy key \"\(key.prefix(64))\" in \(prefix.dropLast()); known keys: \(known)")
            }
            func int() throws(KilnError) -> Int {
                guard case .number(let number) = value, number.rounded() == number, abs(number) < 1e12 else {
                    throw KilnError(.invalidPolicy, "\(prefix)\(key) must be an integer, got \(value.jsonText.prefix(40))")
                }
                return Int(number)
            }
            switch field {
            case .model:
                guard let model = value.stringValue else {
                    throw KilnError(.invalidPolicy, "\(prefix)model must be a string, got \(value.jsonText.prefix(40))")
                }
                policy.model = model
            case .maxOutputTokens: policy.maxOutputTokens = try int()
            case .maxOutputChars: policy.maxOutputChars = try int()
            case .deadlineSeconds: policy.deadlineSeconds = try int()
            case .maxAttempts: policy.maxAttempts = try int()
            case .requiresReview:
                guard case .bool(let flag) = value else {
                    throw KilnError(.invalidPolicy, "\(prefix)requires_review must be true or false, got \(value.jsonText.prefix(40))")
                }
                policy.requiresReview = flag
            case .maxCostMicros: policy.maxCostMicros = value == .null ? nil : Int64(try int())
            case .allowMissingFraction:
                guard case .number(let fraction) = value else {
                    throw KilnError(
                        .invalidPolicy, "\(prefix)allow_missing_fraction must be a number, got \(value.jsonText.prefix(40))")
                }
                policy.allowMissingFraction = fraction
            case .lane:
                guard let text = value.stringValue, let lane = Lane(rawValue: text) else {
                    let names = Lane.allCases.map(\.rawValue).joined(separator: ", ")
                    throw KilnError(.invalidPolicy, "\(prefix)lane must be one of \(names), got \(value.jsonText.prefix(40))")
                }
                policy.lane = lane
            case .overBudget:
                guard let text = value.stringValue, let choice = OverBudget(rawValue: text) else {
                    throw KilnError(.invalidPolicy, "\(prefix)over_budget must be \"wait\" or \"fail\", got \(value.jsonText.prefix(40))")
                }
                policy.overBudget = choice
            case .completionWindow:
                if value == .null {
                    policy.completionWindow = nil
                } else if let text = value.stringValue, let window = CompletionWindow(rawValue: text) {
                    policy.completionWindow = window
                } else {
                    throw KilnError(
                        .invalidPolicy, "\(prefix)completion_window must be \"soonest\", \"2h\" or \"8h\", got \(value.jsonText.prefix(40))"
                    )
                }
            }
        }
        // A window lane is its completion window; a window set beside another lane is a contradiction.
        let laneWindow: CompletionWindow? = policy.lane == .window2h ? .twoHours : policy.lane == .window8h ? .eightHours : nil
        if let laneWindow {
            if let window = policy.completionWindow, window != laneWindow, window != .soonest, object["completion_window"] != nil {
                throw KilnError(
                    .invalidPolicy,
                    "\(prefix)lane \(policy.lane.rawValue) means completion_window \(laneWindow.rawValue), got \(window.rawValue)")
            }
            policy.completionWindow = laneWindow
        } else if policy.lane == .flex, let window = policy.completionWindow, window != .soonest {
            // A window an earlier layer's lane set (a feature's) gives way; one set here is a contradiction.
            guard object["completion_window"] == nil else {
                throw KilnError(.invalidPolicy, "\(prefix)lane flex does not go with completion_window \(window.rawValue) (pick one lane)")
            }
            policy.completionWindow = nil
        }
        try policy.validate(prefix: prefix)
        return policy
    }

    /// The policy as a JSON object, every key present.
    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "model": .string(model),
            "max_output_tokens": .number(Double(maxOutputTokens)),
            "max_output_chars": .number(Double(maxOutputChars)),
            "requires_review": .bool(requiresReview),
            "deadline_seconds": .number(Double(deadlineSeconds)),
            "max_attempts": .number(Double(maxAttempts)),
        ]
        object["completion_window"] = completionWindow.map { .string($0.rawValue) } ?? .null
        object["max_cost_micros"] = maxCostMicros.map { .number(Double($0)) } ?? .null
        object["allow_missing_fraction"] = .number(allowMissingFraction)
        object["over_budget"] = .string(overBudget.rawValue)
        object["lane"] = .string(lane.rawValue)
        return .object(object)
    }
}
