import Hummingbird
import KilnDomain

/// A run as SupportDesk shows it: `GET /runs/:runID` and the answer to a review.
///
/// Absent fields are left out: `output_text` until the run completes, `error` unless it
/// failed, `review_state` until the run needs review.
struct RunView: ResponseEncodable, Sendable {
    struct Failure: Encodable, Sendable {
        let code: String
        let message: String
    }

    let runID: String
    let status: String
    let ticketID: String?
    let createdAt: String
    let outputText: String?
    let refusal: String?
    let error: Failure?
    let reviewState: String?
    let reviewedBy: String?
    let editedText: String?

    init(_ run: Run) {
        runID = run.id.rawValue
        status = run.status.rawValue
        ticketID = run.subject?.id
        createdAt = Timestamp.format(run.createdAt)
        outputText = run.output?.text
        refusal = run.output?.refusal
        error = run.error.map { Failure(code: $0.code, message: $0.message) }
        reviewState = run.reviewState
        reviewedBy = run.reviewedBy
        editedText = run.reviewedOutput?["text"]?.stringValue
    }

    enum CodingKeys: String, CodingKey {
        case runID = "run_id"
        case status
        case ticketID = "ticket_id"
        case createdAt = "created_at"
        case outputText = "output_text"
        case refusal, error
        case reviewState = "review_state"
        case reviewedBy = "reviewed_by"
        case editedText = "edited_text"
    }
}
