/// PostgreSQL's SQLSTATE codes, as far as Kiln tells them apart.
enum SQLState {
    /// Raised by the contract's own triggers (`v4_reviews`): the write breaks a rule of the table.
    static let contractRefused = "KL001"

    /// Whether a failure with this SQLSTATE says the server did not answer this time rather
    /// than that the statement was wrong: no server answer at all (nil), connection
    /// exceptions (08), rollbacks for serialization or deadlock (40), insufficient resources
    /// (53), operator intervention such as a shutdown or a cancelled statement (57), system
    /// errors (58), and a lock not obtained within `lock_timeout` (55P03).
    static func isTransient(_ sqlState: String?) -> Bool {
        guard let sqlState else { return true }
        return sqlState == "55P03" || ["08", "40", "53", "57", "58"].contains(String(sqlState.prefix(2)))
    }
}
