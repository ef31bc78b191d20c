import Foundation
import HTTPTypes
import Hummingbird
import KilnDomain

/// The HTTP face of reply drafts: start one for a ticket, read it, decide on it.
///
/// The rules are the app's, checked before Kiln is called: a signed-in user (``BearerAuthenticator``),
/// the role that may do it, and the user's own tenant, which scopes every read and write so
/// another tenant's run is a `404` like a run that does not exist.
public struct ReplyDraftRoutes: Sendable {
    let runs: RunService

    public init(runs: RunService) {
        self.runs = runs
    }

    public func add(to router: Router<DeskRequestContext>) {
        router.post("/tickets/:ticketID/reply-drafts", use: createDraft)
        router.get("/runs/:runID", use: show)
        router.post("/runs/:runID/review", use: review)
    }

    /// `POST /tickets/:ticketID/reply-drafts`: enqueues a `support_reply` run and answers `202`
    /// at once; the same `Idempotency-Key` returns the same run.
    @Sendable func createDraft(_ request: Request, context: DeskRequestContext) async throws -> EditedResponse<AcceptedDraft> {
        let user = try context.requireUser()
        guard user.role.mayDraft else { throw APIError.forbidden("a \(user.role.rawValue) may read drafts but not start them") }
        let ticketID = try context.parameters.require("ticketID")
        let body = try await Self.decode(DraftBody.self, from: request, context: context, shape: DraftBody.shape)
        let outcome = try await runs.enqueue(
            RunService.Request(
                feature: SupportReply.featureName, tenant: user.tenant, user: user.id, subject: Subject(type: "ticket", id: ticketID),
                input: body.input, idempotencyKey: request.headers[Self.idempotencyKey]))
        let run = outcome.run
        return EditedResponse(status: .accepted, headers: [.location: "/runs/\(run.id.rawValue)"], response: AcceptedDraft(run))
    }

    /// `GET /runs/:runID`: the run of the user's tenant.
    @Sendable func show(_ request: Request, context: DeskRequestContext) async throws -> RunView {
        let user = try context.requireUser()
        let id = RunID(try context.parameters.require("runID"))
        return RunView(try await runs.run(id, tenant: user.tenant))
    }

    /// `POST /runs/:runID/review`: the agent's decision on a completed draft, recorded as theirs.
    @Sendable func review(_ request: Request, context: DeskRequestContext) async throws -> RunView {
        let user = try context.requireUser()
        guard user.role.mayReview else { throw APIError.forbidden("a \(user.role.rawValue) may read drafts but not review them") }
        let id = RunID(try context.parameters.require("runID"))
        let body = try await Self.decode(ReviewBody.self, from: request, context: context, shape: ReviewBody.shape)
        return RunView(try await runs.review(id, tenant: user.tenant, try body.reviewDecision(), by: user.id))
    }

    static let idempotencyKey = HTTPField.Name("Idempotency-Key")!

    /// The JSON body as `T`, or a `400` that shows the expected shape.
    private static func decode<T: Decodable>(
        _ type: T.Type, from request: Request, context: DeskRequestContext, shape: String
    ) async throws -> T {
        let buffer = try await request.body.collect(upTo: context.maxUploadSize)
        do {
            return try JSONDecoder().decode(T.self, from: Data(buffer.readableBytesView))
        } catch {
            throw APIError.badRequest("the body must be JSON: \(shape)")
        }
    }
}
