import Foundation
import KilnDomain
import KilnProvider
import Logging
import SupportDeskApp

/// `SupportDesk`: the example's server, with Kiln's worker in the same process. The only
/// place that reads the environment:
///
/// | variable | meaning | default |
/// |---|---|---|
/// | `SUPPORTDESK_DATABASE` | the SQLite file of `ai_runs` | `supportdesk.sqlite` |
/// | `SUPPORTDESK_PORT` | the port on 127.0.0.1 | `8080` |
/// | `SUPPORTDESK_LOG_LEVEL` | trace, debug, info, notice, warning, error | `info` |
/// | `OPENAI_BASE_URL` | the Responses API (or the simulator: `kiln simulate`) | `https://api.openai.com/v1` |
/// | `OPENAI_API_KEY` | the provider's key | required |
///
/// Users are ``UserDirectory/sample``: tokens `ada-token` (agent, acme), `vic-token`
/// (viewer, acme), `gus-token` (agent, globex).
@main
enum SupportDeskMain {
    static func main() async {
        let environment = ProcessInfo.processInfo.environment
        do {
            let level = try logLevel(environment["SUPPORTDESK_LOG_LEVEL"] ?? "info")
            LoggingSystem.bootstrap { StreamLogHandler.standardError(label: $0) }
            var logger = Logger(label: "supportdesk")
            logger.logLevel = level

            var configuration = SupportDeskConfiguration(
                databasePath: environment["SUPPORTDESK_DATABASE"] ?? "supportdesk.sqlite",
                owner: "\(ProcessInfo.processInfo.hostName):\(ProcessInfo.processInfo.processIdentifier)")
            if let text = environment["SUPPORTDESK_PORT"] {
                guard let port = Int(text), (1...65535).contains(port) else {
                    throw KilnError(.invalidConfiguration, "SUPPORTDESK_PORT must be a port number 1–65535, got \"\(text.prefix(20))\"")
                }
                configuration.port = port
            }
            if let base = environment["OPENAI_BASE_URL"], !base.isEmpty { configuration.kiln.provider.baseURL = base }
            guard configuration.kiln.provider.baseURL.hasPrefix("http://") || configuration.kiln.provider.baseURL.hasPrefix("https://")
            else {
                throw KilnError(.invalidConfiguration, "OPENAI_BASE_URL must start with http:// or https://")
            }
            guard let key = environment["OPENAI_API_KEY"], !APIKey(key).isEmpty else {
                throw KilnError(.invalidConfiguration, "OPENAI_API_KEY is not set")
            }

            let server = try await SupportDeskServer.make(
                configuration: configuration, apiKey: APIKey(key), directory: .sample, logger: logger)
            try await server.run()
        } catch {
            FileHandle.standardError.write(Data("supportdesk: \(error)\n".utf8))
            exit(1)
        }
    }

    static func logLevel(_ name: String) throws -> Logger.Level {
        guard let level = Logger.Level(rawValue: name) else {
            throw KilnError(.invalidConfiguration, "SUPPORTDESK_LOG_LEVEL: unknown level \"\(name.prefix(20))\"")
        }
        return level
    }
}
