import Foundation

/// A run as JSON: the contract's column names as keys, timestamps as contract text.
extension Run: Codable {
    public enum CodingKeys: String, CodingKey, CaseIterable {
        case id
        case tenantID = "tenant_id"
        case userID = "user_id"
        case feature
        case subjectType = "subject_type"
        case subjectID = "subject_id"
        case idempotencyKey = "idempotency_key"
        case input, policy, status, attempt
        case responseID = "response_id"
        case providerStatus = "provider_status"
        case output, error, usage
        case costMicros = "cost_micros"
        case orphanCostMicros = "orphan_cost_micros"
        case pollCount = "poll_count"
        case nextPollAt = "next_poll_at"
        case availableAt = "available_at"
        case leaseOwner = "lease_owner"
        case leaseExpiresAt = "lease_expires_at"
        case cancelRequestedAt = "cancel_requested_at"
        case reviewState = "review_state"
        case reviewedBy = "reviewed_by"
        case reviewedAt = "reviewed_at"
        case reviewedOutput = "reviewed_output"
        case displayedAt = "displayed_at"
        case displayedBy = "displayed_by"
        case promptVersion = "prompt_version"
        case sendStartedAt = "send_started_at"
        case createdAt = "created_at"
        case submittedAt = "submitted_at"
        case providerStartedAt = "provider_started_at"
        case providerCompletedAt = "provider_completed_at"
        case finalizedAt = "finalized_at"
        case updatedAt = "updated_at"
        case parentRunID = "parent_run_id"
        case chunkIndex = "chunk_index"
        case level
        case charStart = "char_start"
        case charEnd = "char_end"
        case erasedAt = "erased_at"
        case providerDeletedAt = "provider_deleted_at"
        case waitReason = "wait_reason"
        case reservedCostMicros = "reserved_cost_micros"
        case batchID = "batch_id"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        func time(_ date: Date?, _ key: CodingKeys) throws {
            try c.encode(date.map(Timestamp.format), forKey: key)
        }
        try c.encode(id, forKey: .id)
        try c.encode(tenantID, forKey: .tenantID)
        try c.encode(userID, forKey: .userID)
        try c.encode(feature, forKey: .feature)
        try c.encode(subject?.type, forKey: .subjectType)
        try c.encode(subject?.id, forKey: .subjectID)
        try c.encode(idempotencyKey, forKey: .idempotencyKey)
        try c.encode(input, forKey: .input)
        try c.encode(policy, forKey: .policy)
        try c.encode(status, forKey: .status)
        try c.encode(attempt, forKey: .attempt)
        try c.encode(responseID, forKey: .responseID)
        try c.encode(providerStatus, forKey: .providerStatus)
        try c.encode(output, forKey: .output)
        try c.encode(error, forKey: .error)
        try c.encode(usage, forKey: .usage)
        try c.encode(costMicros, forKey: .costMicros)
        try c.encode(orphanCostMicros, forKey: .orphanCostMicros)
        try c.encode(pollCount, forKey: .pollCount)
        try time(nextPollAt, .nextPollAt)
        try time(availableAt, .availableAt)
        try c.encode(leaseOwner, forKey: .leaseOwner)
        try time(leaseExpiresAt, .leaseExpiresAt)
        try time(cancelRequestedAt, .cancelRequestedAt)
        try c.encode(reviewState, forKey: .reviewState)
        try c.encode(reviewedBy, forKey: .reviewedBy)
        try time(reviewedAt, .reviewedAt)
        try c.encode(reviewedOutput, forKey: .reviewedOutput)
        try time(displayedAt, .displayedAt)
        try c.encode(displayedBy, forKey: .displayedBy)
        try c.encode(promptVersion, forKey: .promptVersion)
        try time(sendStartedAt, .sendStartedAt)
        try time(createdAt, .createdAt)
        try time(submittedAt, .submittedAt)
        try time(providerStartedAt, .providerStartedAt)
        try time(providerCompletedAt, .providerCompletedAt)
        try time(finalizedAt, .finalizedAt)
        try time(updatedAt, .updatedAt)
        try c.encode(parentRunID, forKey: .parentRunID)
        try c.encode(chunkIndex, forKey: .chunkIndex)
        try c.encode(level, forKey: .level)
        try c.encode(charStart, forKey: .charStart)
        try c.encode(charEnd, forKey: .charEnd)
        try time(erasedAt, .erasedAt)
        try time(providerDeletedAt, .providerDeletedAt)
        try c.encode(waitReason, forKey: .waitReason)
        try c.encode(reservedCostMicros, forKey: .reservedCostMicros)
        try c.encode(batchID, forKey: .batchID)
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        func time(_ key: CodingKeys) throws -> Date? {
            guard let text = try c.decodeIfPresent(String.self, forKey: key) else { return nil }
            guard let date = Timestamp.parse(text) else {
                throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: "not a timestamp")
            }
            return date
        }
        let created = try time(.createdAt) ?? Date(timeIntervalSince1970: 0)
        self.init(
            id: try c.decode(RunID.self, forKey: .id),
            tenantID: try c.decode(TenantID.self, forKey: .tenantID),
            userID: try c.decodeIfPresent(String.self, forKey: .userID),
            feature: try c.decode(String.self, forKey: .feature),
            idempotencyKey: try c.decodeIfPresent(String.self, forKey: .idempotencyKey),
            input: try c.decode(JSONValue.self, forKey: .input),
            policy: try c.decodeIfPresent(JSONValue.self, forKey: .policy) ?? .object([:]),
            createdAt: created)
        if let type = try c.decodeIfPresent(String.self, forKey: .subjectType),
            let subjectID = try c.decodeIfPresent(String.self, forKey: .subjectID)
        {
            subject = Subject(type: type, id: subjectID)
        }
        status = try c.decodeIfPresent(RunStatus.self, forKey: .status) ?? .queued
        attempt = try c.decodeIfPresent(Int.self, forKey: .attempt) ?? 0
        responseID = try c.decodeIfPresent(ResponseID.self, forKey: .responseID)
        providerStatus = try c.decodeIfPresent(String.self, forKey: .providerStatus)
        output = try c.decodeIfPresent(RunOutput.self, forKey: .output)
        error = try c.decodeIfPresent(RunFailure.self, forKey: .error)
        usage = try c.decodeIfPresent(RunUsage.self, forKey: .usage)
        costMicros = try c.decodeIfPresent(Int64.self, forKey: .costMicros)
        orphanCostMicros = try c.decodeIfPresent(Int64.self, forKey: .orphanCostMicros) ?? 0
        pollCount = try c.decodeIfPresent(Int.self, forKey: .pollCount) ?? 0
        nextPollAt = try time(.nextPollAt)
        availableAt = try time(.availableAt) ?? created
        leaseOwner = try c.decodeIfPresent(String.self, forKey: .leaseOwner)
        leaseExpiresAt = try time(.leaseExpiresAt)
        cancelRequestedAt = try time(.cancelRequestedAt)
        reviewState = try c.decodeIfPresent(String.self, forKey: .reviewState)
        reviewedBy = try c.decodeIfPresent(String.self, forKey: .reviewedBy)
        reviewedAt = try time(.reviewedAt)
        reviewedOutput = try c.decodeIfPresent(JSONValue.self, forKey: .reviewedOutput)
        displayedAt = try time(.displayedAt)
        displayedBy = try c.decodeIfPresent(String.self, forKey: .displayedBy)
        promptVersion = try c.decodeIfPresent(String.self, forKey: .promptVersion)
        sendStartedAt = try time(.sendStartedAt)
        submittedAt = try time(.submittedAt)
        providerStartedAt = try time(.providerStartedAt)
        providerCompletedAt = try time(.providerCompletedAt)
        finalizedAt = try time(.finalizedAt)
        updatedAt = try time(.updatedAt) ?? created
        parentRunID = try c.decodeIfPresent(RunID.self, forKey: .parentRunID)
        chunkIndex = try c.decodeIfPresent(Int.self, forKey: .chunkIndex)
        level = try c.decodeIfPresent(Int.self, forKey: .level)
        charStart = try c.decodeIfPresent(Int.self, forKey: .charStart)
        charEnd = try c.decodeIfPresent(Int.self, forKey: .charEnd)
        erasedAt = try time(.erasedAt)
        providerDeletedAt = try time(.providerDeletedAt)
        waitReason = try c.decodeIfPresent(String.self, forKey: .waitReason)
        reservedCostMicros = try c.decodeIfPresent(Int64.self, forKey: .reservedCostMicros)
        batchID = try c.decodeIfPresent(String.self, forKey: .batchID)
    }
}
