import Foundation

/// The Batch API's objects as the simulator holds them: uploaded files, and batches with the
/// plan of each of their requests.
struct SimulatedFile: Sendable {
    let id: String
    let filename: String
    let purpose: String
    let createdAt: Double
    let expiresAt: Double?
    let content: Data
}

struct SimulatedBatch: Sendable {
    /// Why a request or the whole file was refused.
    struct Problem: Sendable {
        let code: String?
        let message: String
        let param: String?
        var line: Int? = nil

        var json: [String: Any] {
            [
                "code": code.map { $0 as Any } ?? NSNull(), "message": message, "param": param.map { $0 as Any } ?? NSNull(),
                "line": line.map { $0 as Any } ?? NSNull(),
            ]
        }
    }

    /// One line of the input file: its custom_id and the response it became (nil: refused
    /// with a 400 and `refusal`).
    struct Request: Sendable {
        let customID: String
        let responseID: String?
        let refusal: Problem?
    }

    let id: String
    let inputFileID: String
    let endpoint: String
    let model: String
    let metadata: [String: String]
    let createdAt: Double
    let inProgressAt: Double
    let expiresAt: Double
    /// Why the file was refused as a whole (status `failed` once validated).
    let errors: [Problem]
    let requests: [Request]
    var cancellingAt: Double?
    var outputFileID: String?
    var errorFileID: String?
    /// When it reached its terminal status and wrote its files.
    var endedAt: Double?
    var endedStatus: String?
}

struct BatchProblem: Error {
    let message: String
    let param: String?
}
