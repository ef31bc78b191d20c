import Foundation

/// What the provider reported about a response (the fields Kiln uses; the rest is skipped).
public struct ProviderResponse: Sendable, Hashable {
    public enum Status: Sendable, Hashable {
        case queued, inProgress, completed, failed, cancelled, incomplete
        /// A status this version does not know: treated as still running.
        case unknown(String)

        public init(_ raw: String) {
            switch raw {
            case "queued": self = .queued
            case "in_progress": self = .inProgress
            case "completed": self = .completed
            case "failed": self = .failed
            case "cancelled": self = .cancelled
            case "incomplete": self = .incomplete
            default: self = .unknown(raw)
            }
        }

        public var rawValue: String {
            switch self {
            case .queued: "queued"
            case .inProgress: "in_progress"
            case .completed: "completed"
            case .failed: "failed"
            case .cancelled: "cancelled"
            case .incomplete: "incomplete"
            case .unknown(let raw): raw
            }
        }

        public var isTerminal: Bool {
            switch self {
            case .completed, .failed, .cancelled, .incomplete: true
            case .queued, .inProgress, .unknown: false
            }
        }
    }

    public var id: ResponseID
    public var status: Status
    /// Every `output_text` part of every `message` item, in order.
    public var outputText: String
    public var refusal: String?
    /// `incomplete_details.reason`.
    public var incompleteReason: String?
    /// `error.code` and `error.message` of a failed response.
    public var errorCode: String?
    public var errorMessage: String?
    public var usage: RunUsage?
    public var createdAt: Date?
    public var completedAt: Date?
    public var metadata: [String: String]

    public init(
        id: ResponseID, status: Status, outputText: String = "", refusal: String? = nil, incompleteReason: String? = nil,
        errorCode: String? = nil, errorMessage: String? = nil, usage: RunUsage? = nil, createdAt: Date? = nil,
        completedAt: Date? = nil, metadata: [String: String] = [:]
    ) {
        self.id = id
        self.status = status
        self.outputText = outputText
        self.refusal = refusal
        self.incompleteReason = incompleteReason
        self.errorCode = errorCode
        self.errorMessage = errorMessage
        self.usage = usage
        self.createdAt = createdAt
        self.completedAt = completedAt
        self.metadata = metadata
    }
}
