/// An error Kiln reports to a person or a program: a short stable `code` (usable as a metric
/// label) and a message that names the key, run or value at fault.
///
/// Messages never contain prompts, outputs, SQL or secrets.
public struct KilnError: Error, Sendable, Hashable, CustomStringConvertible {
    public enum Code: String, Sendable, Codable {
        case invalidArgument = "invalid_argument"
        case invalidInput = "invalid_input"
        case invalidPolicy = "invalid_policy"
        case unknownFeature = "unknown_feature"
        case inputTooLarge = "input_too_large"
        case notFound = "not_found"
        case invalidConfiguration = "invalid_configuration"
        case database = "database_error"
        /// The database did not answer (busy or locked past the timeout, full, read-only,
        /// unreachable): the same call may succeed later, and a worker tries its writes again.
        case databaseUnavailable = "database_unavailable"
        case provider = "provider_error"
        case conflict = "conflict"
        /// The run would cost more than its policy allows (`policy.max_cost_micros`).
        case overBudget = "over_budget"
    }

    public let code: Code
    public let message: String

    public init(_ code: Code, _ message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { message }
}
