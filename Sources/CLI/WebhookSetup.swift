import Foundation
import Hummingbird
import KilnDomain
import KilnWebhooks
import Logging

/// The webhook side of a process: the signing secrets (from the environment or files, as the
/// official SDKs read them) and the HTTP listener that receives deliveries.
enum WebhookSetup {
    /// The verifier for the configured secrets, or nil when none is configured. A secret that
    /// is set but empty, short or malformed stops Kiln with a message that never quotes it.
    static func verifier(configuration: KilnConfiguration, environment: [String: String]) throws -> WebhookVerifier? {
        guard
            let current = try secret(
                file: configuration.webhooks.secretFile, fileKey: "webhooks.secret_file", variable: "OPENAI_WEBHOOK_SECRET",
                environment: environment)
        else {
            if configuration.webhooks.previousSecretFile != nil || environment["OPENAI_WEBHOOK_PREVIOUS_SECRET"] != nil {
                throw KilnError(
                    .invalidConfiguration, "a previous webhook secret is set without a current one (OPENAI_WEBHOOK_SECRET)")
            }
            return nil
        }
        let previous = try secret(
            file: configuration.webhooks.previousSecretFile, fileKey: "webhooks.previous_secret_file",
            variable: "OPENAI_WEBHOOK_PREVIOUS_SECRET", environment: environment)
        return WebhookVerifier(secrets: [current] + (previous.map { [$0] } ?? []))
    }

    private static func secret(
        file: String?, fileKey: String, variable: String, environment: [String: String]
    ) throws -> WebhookSecret? {
        if let file {
            guard let data = FileManager.default.contents(atPath: file), let text = String(data: data, encoding: .utf8) else {
                throw KilnError(.invalidConfiguration, "\(fileKey): cannot read \(file)")
            }
            return try WebhookSecret(text, source: "\(fileKey) (\(file))")
        }
        guard let text = environment[variable] else { return nil }
        return try WebhookSecret(text, source: variable)
    }

    /// `HOST:PORT` → the address to bind.
    static func address(_ text: String, option: String) throws -> (host: String, port: Int) {
        guard let colon = text.lastIndex(of: ":"), let port = Int(text[text.index(after: colon)...]), (0...65535).contains(port) else {
            throw KilnError(.invalidArgument, "\(option) must be HOST:PORT (e.g. 127.0.0.1:8080), got \"\(text.prefix(80))\"")
        }
        let host = String(text[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        guard !host.isEmpty else { throw KilnError(.invalidArgument, "\(option) needs a host, got \"\(text.prefix(80))\"") }
        return (host, port)
    }

    /// The HTTP listener: `POST /webhooks/openai` (with a secret), `/healthz`, `/readyz`,
    /// `/metrics` and the dashboard.
    static func application(_ listener: WorkerSetup.Listener, logger: Logger) -> some ApplicationProtocol {
        let router = Router()
        listener.webhooks?.add(to: router)
        listener.operatorServer.add(to: router)
        let listen = listener.address
        return Application(
            router: router, configuration: .init(address: .hostname(listen.host, port: listen.port), serverName: "kiln"),
            onServerRunning: { channel in
                logger.notice("kiln listening", metadata: ["address": "\(channel.localAddress?.description ?? "?")"])
            }, logger: logger)
    }
}
