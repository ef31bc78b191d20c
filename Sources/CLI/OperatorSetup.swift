import Foundation
import KilnDomain
import KilnOperator
import Metrics
import Prometheus
import Synchronization

/// The operator side of a `kiln` process: credentials for the dashboard, the metrics registry.
enum OperatorSetup {
    /// This process's metrics (swift-metrics is bootstrapped once, onto it).
    static let registry = PrometheusCollectorRegistry()
    private static let bootstrapped = Mutex(false)

    static func bootstrapMetrics() {
        bootstrapped.withLock { done in
            guard !done else { return }
            done = true
            MetricsSystem.bootstrap(MetricsExporter.factory(registry: registry))
        }
    }

    /// Basic auth (`http.auth_user` with `KILN_HTTP_PASSWORD` or `http.auth_password_file`), a bearer
    /// token (`KILN_HTTP_TOKEN` or `http.auth_token_file`), or none. Secrets are never printed.
    static func credentials(configuration: KilnConfiguration, environment: [String: String]) throws -> OperatorAccess.Credentials {
        func secret(variable: String, file: String?, key: String) throws -> String? {
            if let file {
                guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                    throw KilnError(.invalidConfiguration, "\(key): cannot read \(file)")
                }
                let value = text.trimmingCharacters(in: .whitespacesAndNewlines)
                guard !value.isEmpty else { throw KilnError(.invalidConfiguration, "\(key): \(file) is empty") }
                return value
            }
            guard let value = environment[variable] else { return nil }
            guard !value.isEmpty else { throw KilnError(.invalidConfiguration, "\(variable) is set but empty") }
            return value
        }
        let token = try secret(variable: "KILN_HTTP_TOKEN", file: configuration.http.authTokenFile, key: "http.auth_token_file")
        let password = try secret(variable: "KILN_HTTP_PASSWORD", file: configuration.http.authPasswordFile, key: "http.auth_password_file")
        if let user = configuration.http.authUser {
            guard let password else {
                throw KilnError(.invalidConfiguration, "http.auth_user needs a password: KILN_HTTP_PASSWORD or http.auth_password_file")
            }
            guard !user.isEmpty, !user.contains(":") else {
                throw KilnError(.invalidConfiguration, "http.auth_user must be a name without \":\"")
            }
            if token != nil { throw KilnError(.invalidConfiguration, "set basic auth (http.auth_user) or a bearer token, not both") }
            return .basic(user: user, password: password)
        }
        if password != nil { throw KilnError(.invalidConfiguration, "a dashboard password needs http.auth_user") }
        if let token {
            guard token.count >= 16 else { throw KilnError(.invalidConfiguration, "the dashboard token must be at least 16 characters") }
            return .bearer(token: token)
        }
        return .none
    }

    /// Writes the metrics atomically (a temporary file renamed), as the textfile collector wants.
    static func writeMetrics(_ exporter: MetricsExporter, to path: String) async throws {
        let text = try await exporter.render()
        let temporary = path + ".tmp-\(ProcessInfo.processInfo.processIdentifier)"
        do {
            try Data(text.utf8).write(to: URL(fileURLWithPath: temporary))
            guard rename(temporary, path) == 0 else { throw KilnError(.invalidArgument, "rename failed") }
        } catch {
            try? FileManager.default.removeItem(atPath: temporary)
            throw KilnError(.invalidArgument, "--metrics-file: cannot write \(path)")
        }
    }
}
