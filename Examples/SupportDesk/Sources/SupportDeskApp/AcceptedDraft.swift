import Hummingbird
import KilnDomain

/// The `202 Accepted` body of a new draft: `{"run_id", "status"}`; `Location` says where to poll.
struct AcceptedDraft: ResponseEncodable, Sendable {
    let runID: String
    let status: String

    init(_ run: Run) {
        runID = run.id.rawValue
        status = run.status.rawValue
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case status
    }
}
